"""Translation on real data: a small T5 trained on the UDHR's English-German/French/Spanish paragraphs,
held-out BLEU and chrF (sacreBLEU) before and during training.

    ./dev python benchmarks/t5_udhr.py [--epochs 60] [--d-model 256] [--layers 4]

The pairs are ../shared/data/translation/eng-{deu_1996,fra,spa}.tsv (162 paragraphs); every 8th
paragraph of each file is held out (20 pairs), the rest train (142). Sources carry T5's prefixes
("translate English to German: ", ...), so one model learns the three directions. No pretrained T5 can
be had offline, so the model starts from random weights with mf-t5's bundled SentencePiece vocabulary
(trained on the same UDHR text among others): the numbers show learning on real data, not a
translation system. Evaluation generates greedily, up to 128 tokens.
"""
import argparse
import json
import tempfile
import time
from pathlib import Path

import mindspore as ms

from mf import AutoConfig, Trainer, TrainingArguments
from mf_t5 import T5ForConditionalGeneration

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "translation"
PAIRS = {"eng-deu_1996.tsv": "German", "eng-fra.tsv": "French", "eng-spa.tsv": "Spanish"}


def write_split(directory: Path):
    train, held_out = [], []
    for name, language in PAIRS.items():
        for index, line in enumerate((DATA / name).read_text(encoding="utf-8").splitlines()):
            english, other = line.split("\t")
            record = {"source": f"translate English to {language}: {english}", "target": other}
            (held_out if index % 8 == 3 else train).append(record)
    for split, records in (("train", train), ("held_out", held_out)):
        (directory / f"{split}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                                                  encoding="utf-8")
    return len(train), len(held_out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=float, default=60)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--evaluations", type=int, default=4)
    args = parser.parse_args()
    ms.set_device("CPU")
    ms.set_seed(0)
    config = AutoConfig.from_pretrained("t5_tiny", d_model=args.d_model, d_kv=args.d_model // 8, num_heads=8,
                                        d_ff=4 * args.d_model, num_layers=args.layers, dropout_rate=0.1,
                                        relative_attention_num_buckets=32, relative_attention_max_distance=128)
    model = T5ForConditionalGeneration(config)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        n_train, n_held = write_split(scratch)
        # about the steps the Trainer will run (its batches grouped by length come out fewer than n_train // batch);
        # only used to space the evaluations, the count run is printed after training
        steps = int(args.epochs * (n_train // args.batch_size))
        training = TrainingArguments(
            output_dir=str(scratch / "out"), batch_size=args.batch_size, per_device_eval_batch_size=10,
            num_train_epochs=args.epochs, learning_rate=args.learning_rate, warmup_ratio=0.05, weight_decay=0.01,
            seq_length=128, max_target_length=128, generation_max_length=128, logging_steps=20,
            do_eval=True, eval_steps=max(steps // args.evaluations, 1), save_steps=0, plot_loss=False,
            group_by_length=True)
        trainer = Trainer(task="translation", model=model, tokenizer="t5_tiny", args=training,
                          train_dataset=str(scratch / "train.jsonl"), eval_dataset=str(scratch / "held_out.jsonl"))
        print(f"{model.num_parameters() / 1e6:.1f}M-parameter T5 (d_model {args.d_model}, {args.layers}+{args.layers} "
              f"layers), {n_train} training pairs, {n_held} held out, batches of {args.batch_size}")
        started = time.perf_counter()
        untrained = trainer.evaluate()
        print(f"untrained: held-out BLEU {untrained['eval_bleu']:.2f}, chrF {untrained['eval_chrf']:.2f}, "
              f"loss {untrained['eval_loss']:.3f}")
        trainer.train()
        minutes = (time.perf_counter() - started) / 60
        for record in trainer.state.log_history:
            if "eval_bleu" in record:
                print(f"step {record['step']:5d}: held-out BLEU {record['eval_bleu']:.2f}, chrF {record['eval_chrf']:.2f}, "
                      f"loss {record['eval_loss']:.3f}")
        final = trainer.evaluate()
        print(f"trained: held-out BLEU {final['eval_bleu']:.2f} (untrained {untrained['eval_bleu']:.2f}), chrF "
              f"{final['eval_chrf']:.2f} (untrained {untrained['eval_chrf']:.2f}); {trainer.state.global_step} steps, "
              f"{minutes:.1f} min on this machine")
        tokenizer = trainer.tokenizer
        source = json.loads((scratch / "held_out.jsonl").read_text(encoding="utf-8").splitlines()[0])
        output = trainer.model.generate(tokenizer(source["source"])["input_ids"], max_new_tokens=64)
        print("example:", source["source"][:100], "->", tokenizer.decode(output[0], skip_special_tokens=True)[:200])


if __name__ == "__main__":
    main()
