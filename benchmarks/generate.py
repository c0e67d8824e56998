"""Generation speed: mf vs transformers + PyTorch on the same weights, in one run.

    ./dev python benchmarks/generate.py [--model gpt2 | --model DIR] [--threads 2] [--repeats 3] [--weight-dtype int8]

Prints prefill latency of a 128-token prompt and decode tokens/s for 128 new
tokens at batch 1 and 8 (greedy, KV cache), and the mf / PyTorch ratios. `gpt2`
is GPT-2 small with random weights (speed does not depend on their values); a
directory is a Hugging Face checkpoint, e.g. SmolLM2-135M from fetch-large.sh.
With --weight-dtype int8, mf decodes with weight-only int8 (model.quantize) and is compared with PyTorch in
float32 and with PyTorch's own dynamic int8 quantisation of the same model (nn.Linear layers only: for
GPT-2, whose blocks are transformers' Conv1D, that is the head alone). --activation-dtype int8 adds mf's
dynamic int8 (activations quantised per token as well, like PyTorch's dynamic quantisation).
"""
import argparse
import json
import tempfile
import time

from mf import AutoConfig, AutoModel  # first: mf sets OpenMP's wait policy before mindspore loads it
import numpy as np
import mindspore as ms

from _reference_env import run_reference
from mf.generation.utils import _CacheStepper


def median(values):
    return sorted(values)[len(values) // 2]


def measure_mf(model, prompt_length, new_tokens, repeats):
    results = {}
    for batch in (1, 8):
        ids = np.random.default_rng(0).integers(3, model.config.vocab_size, (batch, prompt_length))
        start = time.perf_counter()
        model.generate(ids, max_new_tokens=new_tokens + 1, min_new_tokens=new_tokens + 1)  # compiles
        compile_s = time.perf_counter() - start
        prefill, total = [], []
        for _ in range(repeats):
            stepper = _CacheStepper(model, ids, np.ones_like(ids), new_tokens + 1)
            start = time.perf_counter()
            stepper.start()
            prefill.append(time.perf_counter() - start)
            start = time.perf_counter()
            model.generate(ids, max_new_tokens=new_tokens + 1, min_new_tokens=new_tokens + 1)
            total.append(time.perf_counter() - start)
        results[batch] = {"prefill_s": median(prefill), "total_s": median(total), "first_call_s": compile_s}
    return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="gpt2", help="gpt2 (random GPT-2 small) or a Hugging Face directory")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--prompt-length", type=int, default=128)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--weight-dtype", choices=("float32", "int8"), default="float32")
    parser.add_argument("--activation-dtype", choices=("float32", "int8"), default="float32")
    args = parser.parse_args()
    ms.set_device("CPU")
    ms.set_seed(0)
    with tempfile.TemporaryDirectory() as scratch:
        if args.model == "gpt2":
            model = AutoModel.from_config(AutoConfig.from_pretrained("gpt2"))
            model.save_pretrained(scratch, format="huggingface")
            weights, name = scratch, "GPT-2 small (random weights)"
        else:
            model, weights, name = AutoModel.from_pretrained(args.model), args.model, args.model
        reference = [args.threads, args.prompt_length, args.new_tokens, args.repeats]
        torch_results = {"float32": json.loads(run_reference("_torch_generate.py", weights, *reference))}
        if args.weight_dtype == "int8":
            torch_results["dynamic int8"] = json.loads(run_reference("_torch_generate.py", weights, *reference,
                                                                     "dynamic_int8"))
    if args.weight_dtype == "int8":
        model.quantize("int8", activation_dtype=args.activation_dtype)
    mf_results = measure_mf(model, args.prompt_length, args.new_tokens, args.repeats)
    print(f"{name}, {args.prompt_length}-token prompt, {args.new_tokens} new tokens, greedy, "
          f"{args.threads} threads (medians of {args.repeats}); mf weights {args.weight_dtype}"
          f"{', activations int8 (dynamic)' if args.activation_dtype == 'int8' else ''}")
    for kind, reference in torch_results.items():
        print(f"{'':26}{'mf':>12}{'PyTorch':>12}{'mf/PyTorch':>12}   (PyTorch {kind})")
        for batch in (1, 8):
            mf, pt = mf_results[batch], reference[str(batch)]
            mf_decode = batch * args.new_tokens / (mf["total_s"] - mf["prefill_s"])
            pt_decode = batch * args.new_tokens / (pt["total_s"] - pt["prefill_s"])
            print(f"batch {batch} prefill (ms)      {mf['prefill_s'] * 1e3:12.1f}{pt['prefill_s'] * 1e3:12.1f}"
                  f"{pt['prefill_s'] / mf['prefill_s']:11.2f}x")
            print(f"batch {batch} decode (tokens/s) {mf_decode:12.1f}{pt_decode:12.1f}{mf_decode / pt_decode:11.2f}x")
    for batch in (1, 8):
        print(f"batch {batch} first mf generate() incl. compiling (s): {mf_results[batch]['first_call_s']:.1f}")
    print("ratios are speed ratios: above 1.0x mf is faster")


if __name__ == "__main__":
    main()
