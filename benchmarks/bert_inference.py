"""BERT-base inference speed: sequences/s at 128 tokens, batch 1 and 8, mf vs transformers + PyTorch.

    ./dev python benchmarks/bert_inference.py [--threads 2] [--repeats 5] [--role sequence_classification]

Both sides run the same randomly initialised BERT-base (mf writes it in the Hugging Face layout and
PyTorch loads it), so the printed maximum difference of their logits checks parity too. mf runs the
model as one compiled graph (as the Trainer's evaluation does), PyTorch in eval mode under no_grad.
"""
import argparse
import json
import tempfile
import time

from mf import AutoConfig  # first: mf sets OpenMP's wait policy before mindspore loads it
import numpy as np
import mindspore as ms
from mindspore import Tensor

from _reference_env import run_reference
from mf.trainer.step import ModelForward
from mf_bert import BertForSequenceClassification


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--length", type=int, default=128)
    args = parser.parse_args()
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_seed(0)
    config = AutoConfig.from_pretrained("bert_base_uncased", hidden_dropout=0.0, attention_dropout=0.0)
    model = BertForSequenceClassification(config)
    model.set_train(False)
    forward = ModelForward(model)
    results, logits = {}, {}
    for batch in (1, 8):
        rng = np.random.default_rng(batch)
        inputs = [Tensor(rng.integers(1000, config.vocab_size, (batch, args.length)).astype(np.int32)),
                  Tensor(np.ones((batch, args.length), np.int32)), Tensor(np.zeros((batch, args.length), np.int32))]
        logits[batch] = forward(*inputs).asnumpy()  # compiles
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            forward(*inputs).asnumpy()
            times.append(time.perf_counter() - start)
        results[batch] = batch / sorted(times)[len(times) // 2]
    with tempfile.TemporaryDirectory() as directory:
        model.save_pretrained(directory, format="huggingface")
        torch_side = json.loads(run_reference("_torch_bert_inference.py", directory, args.threads, args.length,
                                              args.repeats).strip().splitlines()[-1])
    for batch in (1, 8):
        reference = torch_side[str(batch)]
        worst = float(np.abs(np.asarray(reference["logits"]) - logits[batch]).max())
        print(f"batch {batch}: mf {results[batch]:.2f} seq/s, PyTorch {reference['per_second']:.2f} seq/s, "
              f"ratio mf/PyTorch {results[batch] / reference['per_second']:.2f}; max |logit difference| {worst:.1e}")


if __name__ == "__main__":
    main()
