"""Training speed: an mf training step vs transformers + PyTorch (fused AdamW), in one run.

    ./dev python benchmarks/train.py [--model gpt2|llama_tiny|PRESET] [--batch 4 --length 256 --steps 3]

Prints tokens/s of a full step (forward, backward, gradient clipping, AdamW), the
ratio, model-FLOPs utilisation against each framework's measured 2048x2048 matmul
peak, and each process's peak memory. Each side runs in its own process.
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _reference_env import run_reference

HERE = Path(__file__).parent


def model_flops_per_token(params, layers, hidden, length):
    """6 N per token for the weights, plus attention's 12 * layers * hidden * length (PaLM's count)."""
    return 6 * params + 12 * layers * hidden * length


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="gpt2", help="an mf preset (gpt2, llama_tiny, ...)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as config_dir:
        mf = subprocess.run([sys.executable, str(HERE / "_mf_train.py"), str(args.batch), str(args.length),
                             str(args.steps), "", args.model, config_dir], capture_output=True, text=True)
        if mf.returncode != 0:
            raise SystemExit(mf.stderr)
        mf = json.loads(mf.stdout.strip().splitlines()[-1])
        pt = json.loads(run_reference("_torch_train.py", args.batch, args.length, args.steps, args.threads,
                                      config_dir))
        config = json.loads((Path(config_dir) / "config.json").read_text())
    layers = config.get("n_layer") or config.get("num_hidden_layers")
    hidden = config.get("n_embd") or config.get("hidden_size")
    tokens = args.batch * args.length
    flops = model_flops_per_token(mf["params"], layers, hidden, args.length) * tokens
    print(f"{args.model} training step, batch {args.batch} x {args.length} tokens, {args.threads} threads "
          f"(median of {args.steps})")
    print(f"{'':28}{'mf':>12}{'PyTorch':>12}{'mf/PyTorch':>12}")
    print(f"{'tokens/s':28}{tokens / mf['step_s']:12.1f}{tokens / pt['step_s']:12.1f}"
          f"{pt['step_s'] / mf['step_s']:11.2f}x")
    print(f"{'step time (s)':28}{mf['step_s']:12.2f}{pt['step_s']:12.2f}")
    print(f"{'matmul peak (GFLOP/s)':28}{mf['peak'] / 1e9:12.1f}{pt['peak'] / 1e9:12.1f}")
    print(f"{'MFU vs own matmul peak':28}{flops / mf['step_s'] / mf['peak']:12.1%}"
          f"{flops / pt['step_s'] / pt['peak']:12.1%}")
    print(f"{'peak memory (MB)':28}{mf['max_rss_mb']:12.0f}{pt['max_rss_mb']:12.0f}")
    print(f"first mf step, compiling included: {mf['first_step_s']:.1f} s")


if __name__ == "__main__":
    main()
