"""Peak memory of mf training steps on this machine, for comparing with mf plan's estimate.

argv: preset batch length recompute(0/1) [config overrides as JSON]
Prints one JSON line: the resident memory before the model is built, the peak after three
compiled training steps (forward, backward, AdamW), and the parameter count.
"""
import json
import sys

import mf  # noqa: F401  (first: sets OpenMP's wait policy for mindspore)
import numpy as np
import mindspore as ms
from mindspore import Tensor

from mf import AutoConfig, AutoModel, TrainingArguments
from mf.trainer.optim import build_optimizer
from mf.trainer.step import NextTokenLoss, TrainStep


def status_mb(field: str) -> float:
    with open("/proc/self/status", encoding="utf-8") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024


def main():
    preset, batch, length, recompute = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
    overrides = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_seed(0)
    before = status_mb("VmRSS")
    config = AutoConfig.from_pretrained(preset, **overrides)
    model = AutoModel.from_config(config)
    if recompute:
        for _, block in model.transformer_blocks():
            block.recompute()
    model.set_train(True)
    args = TrainingArguments(learning_rate=1e-4, weight_decay=0.01)
    optimizer, decayed = build_optimizer(model.trainable_params(), args)
    step = TrainStep(NextTokenLoss(model), optimizer, decayed, 1.0, 0.01, 1)
    ids = Tensor(np.random.default_rng(0).integers(0, config.vocab_size, (batch, length + 1)).astype(np.int32))
    inputs, labels, scale = ids[:, :-1], ids[:, 1:], Tensor(np.float32(batch * length))
    for _ in range(3):
        step(scale, True, inputs, labels)[0].asnumpy()
    # the high-water mark of this program's memory: ru_maxrss would also count the parent's memory
    # at fork time (it survives exec), VmHWM starts afresh with the program
    peak = status_mb("VmHWM")
    print(json.dumps({"before_mb": before, "peak_mb": peak, "parameters": model.num_parameters(),
                      "in_place_update": getattr(optimizer, "fused", None) is not None}))


if __name__ == "__main__":
    main()
