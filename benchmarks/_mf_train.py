"""mf side of train.py: training steps (forward, backward, AdamW) of a preset in graph mode.

argv: batch length steps [pet_method] [preset] [config_dir]; writes the model's Hugging Face
config.json into config_dir so the PyTorch side builds the same architecture."""
import json
import os
import resource
import sys
import time

from mf import AutoConfig, AutoModel, TrainingArguments  # first: mf sets OpenMP's wait policy for mindspore
import numpy as np
import mindspore as ms
from mindspore import Tensor, nn, ops

from mf import compile_cache  # noqa: E402

compile_cache.enable_from_environment()  # MF_COMPILE_CACHE: benchmarks/compile_cache.py measures with it on
ms.set_device("CPU")
ms.set_context(mode=ms.GRAPH_MODE)
from mf.trainer.optim import build_optimizer  # noqa: E402
from mf.trainer.step import NextTokenLoss, TrainStep  # noqa: E402

batch, length, steps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
pet_method = sys.argv[4] if len(sys.argv) > 4 else ""
preset = sys.argv[5] if len(sys.argv) > 5 else "gpt2"
config_dir = sys.argv[6] if len(sys.argv) > 6 else None


def matmul_peak():
    """GFLOP/s of the product mf's Linear runs (its blocked GEMM kernel; MindSpore's MatMul without kernels)."""
    from mf import kernels

    a = Tensor(np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32))
    mm = kernels.op("matmul") or ops.MatMul(transpose_b=True)

    class Square(nn.Cell):
        def construct(self, x):
            return mm(x, x)

    cell = Square()
    cell(a).asnumpy()
    best = float("inf")
    for _ in range(3):  # the best of 3 rounds of 5: one round right after the training steps varied by 2x
        start = time.perf_counter()
        for _ in range(5):
            out = cell(a)
        out.asnumpy()
        best = min(best, (time.perf_counter() - start) / 5)
    return 2 * 2048 ** 3 / best


ms.set_seed(0)
dropout_free = {"hidden_dropout": 0.0, "embedding_dropout": 0.0, "attention_dropout": 0.0} \
    if preset.startswith("gpt2") else {}
config = AutoConfig.from_pretrained(preset, **dropout_free)
model = AutoModel.from_config(config)
if config_dir:
    config.save_pretrained(config_dir, format="huggingface")
if os.environ.get("MF_BENCH_RECOMPUTE") == "1":
    for _, block in model.transformer_blocks():
        block.recompute()
if pet_method:
    from mf import apply_pet

    apply_pet(model, pet_method)
model.set_train(True)
args = TrainingArguments(learning_rate=1e-4, weight_decay=0.01)
optimizer, decayed = build_optimizer(model.trainable_params(), args)
step = TrainStep(NextTokenLoss(model), optimizer, decayed, 1.0, 0.01, 1)
ids = Tensor(np.random.default_rng(0).integers(0, config.vocab_size, (batch, length + 1)).astype(np.int32))
inputs, labels, scale = ids[:, :-1], ids[:, 1:], Tensor(np.float32(batch * length))
start = time.perf_counter()
step(scale, True, inputs, labels)[0].asnumpy()
first = time.perf_counter() - start
times = []
for _ in range(steps):
    start = time.perf_counter()
    step(scale, True, inputs, labels)[0].asnumpy()
    times.append(time.perf_counter() - start)
print(json.dumps({"step_s": sorted(times)[len(times) // 2], "first_step_s": first, "peak": matmul_peak(),
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "params": model.num_parameters(), "trainable": model.num_parameters(only_trainable=True)}))
