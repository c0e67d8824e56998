"""T5 decoding speed: mf vs transformers + PyTorch on the same t5-small-sized weights, in one run.

    ./dev python benchmarks/t5_generate.py [--threads 2] [--repeats 3] [--source-length 128] [--new-tokens 64]

A randomly initialised T5 of t5_small's shape (60M parameters; speed does not depend on the values) is
written in the Hugging Face layout and loaded by both sides. Each generates --new-tokens tokens greedily
(end-of-sequence suppressed, so both decode the same count) after encoding a --source-length source, at
batch 1 and 8. Prints the time to the first token (encoder + first decoder step), decoder tokens/s over
the whole generation, the mf / PyTorch ratios, and how many generated tokens the two sides share.
"""
import argparse
import json
import tempfile
import time

from mf import AutoConfig  # first: mf sets OpenMP's wait policy before mindspore loads it
import numpy as np
import mindspore as ms

from _reference_env import run_reference
from mf_t5 import T5ForConditionalGeneration


def median(values):
    return sorted(values)[len(values) // 2]


def measure(model, batch, source_length, new_tokens, repeats):
    ids = np.random.default_rng(batch).integers(3, 32000, (batch, source_length))
    start = time.perf_counter()
    tokens = model.generate(ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens)  # compiles
    compile_s = time.perf_counter() - start
    first, total = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        model.generate(ids, max_new_tokens=1, min_new_tokens=1)
        first.append(time.perf_counter() - start)
        start = time.perf_counter()
        model.generate(ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens)
        total.append(time.perf_counter() - start)
    return {"first_token_s": median(first), "tokens_per_s": batch * new_tokens / median(total),
            "first_call_s": compile_s, "tokens": tokens.tolist()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--source-length", type=int, default=128)
    parser.add_argument("--new-tokens", type=int, default=64)
    args = parser.parse_args()
    ms.set_device("CPU")
    ms.set_seed(0)
    model = T5ForConditionalGeneration(AutoConfig.from_pretrained("t5_small", dropout_rate=0.0))
    model.set_train(False)
    with tempfile.TemporaryDirectory() as scratch:
        model.save_pretrained(scratch, format="huggingface")
        torch_side = json.loads(run_reference("_torch_t5_generate.py", scratch, args.threads, args.source_length,
                                              args.new_tokens, args.repeats).strip().splitlines()[-1])
    print(f"t5_small shape (random weights), {args.source_length}-token source, {args.new_tokens} new tokens, greedy, "
          f"{args.threads} threads (medians of {args.repeats})")
    print(f"{'':34}{'mf':>10}{'PyTorch':>10}{'mf/PyTorch':>12}")
    for batch in (1, 8):
        ours, theirs = measure(model, batch, args.source_length, args.new_tokens, args.repeats), torch_side[str(batch)]
        same = float(np.mean(np.asarray(ours["tokens"]) == np.asarray(theirs["tokens"])))
        print(f"batch {batch}: first token (ms)          {ours['first_token_s'] * 1e3:10.1f}"
              f"{theirs['first_token_s'] * 1e3:10.1f}{theirs['first_token_s'] / ours['first_token_s']:12.2f}")
        print(f"batch {batch}: decoding (tokens/s)       {ours['tokens_per_s']:10.1f}{theirs['tokens_per_s']:10.1f}"
              f"{ours['tokens_per_s'] / theirs['tokens_per_s']:12.2f}")
        print(f"batch {batch}: mf's first call {ours['first_call_s']:.1f} s (compiles); tokens equal to PyTorch's: "
              f"{same:.1%}")


if __name__ == "__main__":
    main()
