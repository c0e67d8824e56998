"""Chinese named entities on People's Daily: a small BERT trained from scratch by mf.

    ./dev python benchmarks/bert_ner.py [--epochs 5 --hidden 256 --layers 2 --heads 4 --lr 1e-3 --length 128]

Data: ../shared/data/scripts/fetch-datasets.sh zh_ner (character-level BIO over PER, LOC, ORG; the fixed
train/test split). The model uses bert-base-chinese's vocabulary (shipped with mf-bert) and starts from
random weights; printed: entity-level precision / recall / F1 on the test split overall and per type
(exact spans, as seqeval), and the training time per epoch.
"""
import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from mf import AutoTokenizer, Trainer, TrainingArguments  # noqa: E402
from mf_bert import BertConfig, BertForTokenClassification  # noqa: E402

DATA = Path(os.environ.get("MF_TESTDATA", Path.home() / ".cache" / "mf-testdata")) / "zh_ner"
LABELS = ["O", "B-LOC", "B-ORG", "B-PER", "I-LOC", "I-ORG", "I-PER"]


class EpochEnd:
    """Test F1 after each epoch (the evaluation's time is not counted in the epoch's)."""

    def __init__(self):
        self.epoch, self.paused = 0, 0.0

    def on_step_end(self, trainer, state):
        if state.epoch > self.epoch:
            self.epoch = state.epoch
            start = time.perf_counter()
            metrics = trainer.evaluate()
            self.paused += time.perf_counter() - start
            print(f"after epoch {self.epoch}: test entity F1 {metrics['eval_f1']:.4f}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=float, default=5)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--heads", type=int, default=4)
    args = parser.parse_args()
    if not (DATA / "train.conll").is_file():
        raise SystemExit(f"no {DATA}: run ../shared/data/scripts/fetch-datasets.sh ~/.cache/mf-testdata zh_ner")
    tokenizer = AutoTokenizer.from_pretrained("tokcls_bert_base_chinese")
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=args.hidden, num_layers=args.layers,
                        num_heads=args.heads, intermediate_size=4 * args.hidden, seq_length=args.length,
                        id2label={str(i): name for i, name in enumerate(LABELS)})
    model = BertForTokenClassification(config)
    training = TrainingArguments(output_dir=tempfile.mkdtemp(), num_train_epochs=args.epochs, batch_size=args.batch,
                                 seq_length=args.length, learning_rate=args.lr, warmup_steps=200, weight_decay=0.01,
                                 logging_steps=200, save_steps=0, plot_loss=False, per_device_eval_batch_size=128,
                                 group_by_length=True)
    trainer = Trainer(task="token_classification", model=model, tokenizer=tokenizer, args=training,
                      train_dataset=str(DATA / "train.conll"), eval_dataset=str(DATA / "test.conll"),
                      callbacks=[EpochEnd()])
    start = time.perf_counter()
    state = trainer.train()
    seconds = time.perf_counter() - start - trainer.callbacks[0].paused
    metrics = trainer.evaluate()
    print(json.dumps({"epoch_seconds": seconds / args.epochs, "steps": state.global_step,
                      **{k: round(v, 4) for k, v in metrics.items()}}))
    print(f"test entity F1 {metrics['eval_f1']:.4f} (precision {metrics['eval_precision']:.4f}, recall "
          f"{metrics['eval_recall']:.4f}); PER {metrics['eval_PER_f1']:.4f}, LOC {metrics['eval_LOC_f1']:.4f}, "
          f"ORG {metrics['eval_ORG_f1']:.4f}; {seconds / args.epochs:.0f} s per epoch on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
