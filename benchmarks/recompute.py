"""Recompute vs not: peak memory and step time of a GPT-2 small training step, each in its own process.

    ./dev python benchmarks/recompute.py [--batch 4 --length 512 --steps 2]
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def measure(args, recompute):
    env = {**os.environ, "MF_BENCH_RECOMPUTE": "1" if recompute else "0"}
    result = subprocess.run([sys.executable, str(HERE / "_mf_train.py"), str(args.batch), str(args.length),
                             str(args.steps), "", args.model], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="gpt2")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--length", type=int, default=512)
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()
    plain, recomputed = measure(args, False), measure(args, True)
    print(f"{args.model} training step, batch {args.batch} x {args.length} (median of {args.steps})")
    print(f"{'':22}{'plain':>10}{'recompute':>12}{'ratio':>8}")
    print(f"{'peak memory (MB)':22}{plain['max_rss_mb']:10.0f}{recomputed['max_rss_mb']:12.0f}"
          f"{recomputed['max_rss_mb'] / plain['max_rss_mb']:7.2f}x")
    print(f"{'step time (s)':22}{plain['step_s']:10.2f}{recomputed['step_s']:12.2f}"
          f"{recomputed['step_s'] / plain['step_s']:7.2f}x")


if __name__ == "__main__":
    main()
