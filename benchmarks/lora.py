"""LoRA vs full fine-tuning of GPT-2 small in mf: step time and peak memory, each in its own process.

    ./dev python benchmarks/lora.py [--batch 4 --length 256 --steps 3]
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def measure(batch, length, steps, pet_method):
    result = subprocess.run([sys.executable, str(HERE / "_mf_train.py"), str(batch), str(length), str(steps),
                             pet_method, "gpt2"], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    full = measure(args.batch, args.length, args.steps, "")
    lora = measure(args.batch, args.length, args.steps, "lora")
    print(f"GPT-2 small fine-tuning step, batch {args.batch} x {args.length}, AdamW (median of {args.steps})")
    print(f"{'':26}{'full':>12}{'LoRA r=8':>12}{'LoRA/full':>12}")
    print(f"{'trainable parameters':26}{full['trainable']:12,}{lora['trainable']:12,}"
          f"{lora['trainable'] / full['trainable']:12.2%}")
    print(f"{'step time (s)':26}{full['step_s']:12.2f}{lora['step_s']:12.2f}{lora['step_s'] / full['step_s']:11.2f}x")
    print(f"{'peak memory (MB)':26}{full['max_rss_mb']:12.0f}{lora['max_rss_mb']:12.0f}"
          f"{lora['max_rss_mb'] / full['max_rss_mb']:11.2f}x")


if __name__ == "__main__":
    main()
