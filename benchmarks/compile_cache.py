"""Compile once per machine: the first training step and the first generated answer, cold and with the compile
cache warm (mf.compile_cache), each in a new process as a user meets them.

    ./dev python benchmarks/compile_cache.py [--model gpt2] [--batch 4 --length 256] [--generate-model DIR]

1. GPT-2 small training (benchmarks/_mf_train.py): the first step's time (compiling included) with the cache
   off, then twice with a new, empty store: the first fills it, the second loads from it.
2. `mf generate` of a model directory (SmolLM2-135M from ../shared/data/scripts/fetch-large.sh smollm2 when it
   is there, else a random GPT-2 small saved for the purpose): wall time of the whole command, the same way.
The numbers (and the loss of the first step) must match between the runs: a loaded graph is the same graph.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
SMOLLM2 = Path(os.environ.get("MF_TESTDATA", Path.home() / ".cache" / "mf-testdata")) / "smollm2"
MF = Path(sys.executable).with_name("mf")


def first_step(args, store):
    env = {**os.environ, "MF_COMPILE_CACHE": store}
    run = subprocess.run([sys.executable, str(HERE / "_mf_train.py"), str(args.batch), str(args.length), "1", "",
                          args.model], capture_output=True, text=True, env=env)
    if run.returncode != 0:
        raise SystemExit(run.stderr[-3000:])
    return json.loads(run.stdout.strip().splitlines()[-1])["first_step_s"]


def generate(model_dir, store, prompt):
    env = {**os.environ, "MF_COMPILE_CACHE": store}
    start = time.perf_counter()
    run = subprocess.run([str(MF), "generate", "--model", str(model_dir), "--prompt", prompt,
                          "--max-new-tokens", "16"], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        raise SystemExit(run.stderr[-3000:])
    return seconds, run.stdout.strip()


def random_gpt2(directory):
    code = ("import mindspore as ms; from mf import AutoConfig, AutoModel, AutoTokenizer; ms.set_seed(0); "
            f"AutoModel.from_config(AutoConfig.from_pretrained('gpt2')).save_pretrained({str(directory)!r}); "
            f"AutoTokenizer.from_pretrained('gpt2').save_pretrained({str(directory)!r})")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return directory


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="gpt2")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--generate-model", default=None, help="a model directory for `mf generate`")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        store = str(Path(scratch) / "graphs")
        off = first_step(args, "0")
        cold = first_step(args, store)
        warm = first_step(args, store)
        print(f"{args.model} training, batch {args.batch} x {args.length}: first step {off:.1f} s with the cache off, "
              f"{cold:.1f} s filling it, {warm:.1f} s with it warm ({off / warm:.1f}x faster)", flush=True)

        model_dir = Path(args.generate_model) if args.generate_model else (
            SMOLLM2 if (SMOLLM2 / "config.json").is_file() else random_gpt2(Path(scratch) / "gpt2-random"))
        prompt = "The capital of France is"
        store = str(Path(scratch) / "graphs-generate")
        off, text_off = generate(model_dir, "0", prompt)
        cold, text_cold = generate(model_dir, store, prompt)
        warm, text_warm = generate(model_dir, store, prompt)
        same = text_off == text_cold == text_warm
        print(f"mf generate {model_dir.name} (16 new tokens): {off:.1f} s with the cache off, {cold:.1f} s filling it, "
              f"{warm:.1f} s with it warm ({off / warm:.1f}x faster); answers identical: {same}")
        print(f"  answer: {text_warm[:200]!r}")


if __name__ == "__main__":
    main()
