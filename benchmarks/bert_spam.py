"""Fine-tuning a real encoder on real labelled data: all-MiniLM-L6-v2 -> spam filter on SpamAssassin.

    ./dev python benchmarks/bert_spam.py [--epochs 1 --batch 16 --length 128 --lr 1e-4]

The fixed train/test split of ../shared/data/text-classification/spam_assassin.jsonl (4837 / 1209
e-mails), the MiniLM weights from ../shared/data/scripts/fetch-large.sh minilm. mf (Trainer,
task text_classification) and transformers + PyTorch (the same recipe: AdamW, linear decay, no warm-up,
[CLS]-pooler classifier) train in turn in their own processes on the same tokens; printed: each side's
test accuracy, seconds per epoch, and the time ratio.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _reference_env import run_reference

HERE = Path(__file__).parent
DATA = HERE.parent.parent / "shared" / "data" / "text-classification" / "spam_assassin.jsonl"
MINILM = Path(os.environ.get("MF_TESTDATA", Path.home() / ".cache" / "mf-testdata")) / "minilm"


def write_splits(directory: Path):
    """train.jsonl and test.jsonl of the data set's fixed split, as {"text", "label"} lines."""
    files = {split: open(directory / f"{split}.jsonl", "w", encoding="utf-8") for split in ("train", "test")}
    with open(DATA, encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            files[record["split"]].write(json.dumps({"text": record["text"], "label": record["label"]}) + "\n")
    for f in files.values():
        f.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=float, default=1)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()
    if not MINILM.is_dir():
        raise SystemExit(f"no {MINILM}: run ../shared/data/scripts/fetch-large.sh minilm first")
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        write_splits(work)
        common = [str(work), str(MINILM), str(args.epochs), str(args.batch), str(args.length), str(args.lr)]
        mf = subprocess.run([sys.executable, str(HERE / "_mf_spam.py"), *common], capture_output=True, text=True)
        if mf.returncode != 0:
            raise SystemExit(mf.stderr[-4000:])
        mf = json.loads(mf.stdout.strip().splitlines()[-1])
        print(f"mf:          test accuracy {mf['accuracy']:.4f}, {mf['epoch_seconds']:.0f} s/epoch "
              f"({mf['steps']} steps of {args.batch} x {args.length} tokens)", flush=True)
        if args.skip_reference:
            return
        pt = json.loads(run_reference("_torch_spam.py", *common, args.threads).strip().splitlines()[-1])
        print(f"transformers: test accuracy {pt['accuracy']:.4f}, {pt['epoch_seconds']:.0f} s/epoch")
        print(f"time ratio mf / PyTorch: {mf['epoch_seconds'] / pt['epoch_seconds']:.2f}; "
              f"accuracy mf - PyTorch: {mf['accuracy'] - pt['accuracy']:+.4f}")


if __name__ == "__main__":
    main()
