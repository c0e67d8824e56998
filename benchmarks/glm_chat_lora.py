"""GLM: pre-train a small GLM on Chinese text, LoRA fine-tune it on real Chinese chat pairs, score held-out answers
with BLEU-4 and ROUGE-1/2/L as ChatGLM's evaluation does (before and after the fine-tune).

    ./dev python benchmarks/glm_chat_lora.py [--pretrain-epochs 30 --lora-epochs 8 --lora-lr 5e-3]

Data: ../shared/data/instructions/chat_pairs_chinese.jsonl (552 pairs; every 8th held out: 69 for evaluation,
483 for training) and, for pre-training, plain Chinese text: the training pairs' questions and answers as
documents (no prompt/response format) and the Chinese sentences of the UDHR pairs.
Model: GLM-6B's architecture at 4 layers x 256 (8 heads, MLP 1024) on mf-glm's stand-in tokenizer.
Steps, each as a user runs it:
1. `mf run --run_mode train` pre-trains the base model on the plain text;
2. `mf run --run_mode eval` scores the base model's answers to the held-out prompts (it has never seen the
   prompt/response format);
3. the Trainer fine-tunes LoRA adapters (glm_6b_lora's: rank 8, alpha 32, on query_key_value) on the training pairs
   with the loss on the responses only; the adapters are merged and saved;
4. `mf run --run_mode eval` scores the fine-tuned model's answers.
Printed: held-out loss, BLEU-4, ROUGE-1/2/L and answer length before and after, the minutes each step took.
"""
import argparse
import json
import tempfile
import time
from pathlib import Path

from _mf_run import mf_run

HERE = Path(__file__).parent
CHAT = HERE.parent.parent / "shared" / "data" / "instructions" / "chat_pairs_chinese.jsonl"
UDHR = HERE.parent.parent / "shared" / "data" / "translation" / "eng-cmn_hans.tsv"
MODEL = dict(hidden_size=256, inner_hidden_size=1024, num_layers=4, num_heads=8, seq_length=256)
EVAL_OPTIONS = ["--seq_length", "96", "--per_device_eval_batch_size", "8", "--generation_max_length", "32"]


def pretraining_text(train_pairs):
    """The training pairs' texts and the UDHR's Chinese sentences, as blank-line separated documents."""
    documents = [f"{pair['instruction']}\n{pair['output']}" for pair in train_pairs]
    documents += [line.split("\t")[1] for line in UDHR.read_text(encoding="utf-8").splitlines() if "\t" in line]
    return "\n\n".join(documents)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pretrain-epochs", type=float, default=30)
    parser.add_argument("--lora-epochs", type=float, default=8)
    parser.add_argument("--lora-lr", type=float, default=5e-3)
    args = parser.parse_args()
    if not CHAT.is_file():
        raise SystemExit(f"no {CHAT}")
    import mindspore as ms
    from mf import AutoConfig, AutoModel, AutoTokenizer, Trainer, TrainingArguments
    from mf.pet import merge_and_unload

    pairs = [json.loads(line) for line in CHAT.read_text(encoding="utf-8").splitlines() if line.strip()]
    train = [p for i, p in enumerate(pairs) if i % 8]
    held_out = [p for i, p in enumerate(pairs) if i % 8 == 0]
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        (work / "train.jsonl").write_text("\n".join(json.dumps(p, ensure_ascii=False) for p in train), "utf-8")
        (work / "eval.jsonl").write_text("\n".join(json.dumps(p, ensure_ascii=False) for p in held_out), "utf-8")
        tokenizer = AutoTokenizer.from_pretrained("glm_tiny")
        (work / "pretrain.txt").write_text(pretraining_text(train), encoding="utf-8")
        ms.set_seed(0)
        model = AutoModel.from_config(AutoConfig.from_pretrained("glm_tiny", **MODEL))
        model.save_pretrained(work / "init")
        tokenizer.save_pretrained(work / "init")
        parameters = sum(p.size for p in model.get_parameters())
        print(f"GLM {MODEL['num_layers']} x {MODEL['hidden_size']}: {parameters / 1e6:.1f}M parameters; "
              f"pre-training text: {len(train)} pair texts and the UDHR's Chinese; "
              f"{len(train)} training / {len(held_out)} held-out pairs", flush=True)

        _, minutes = mf_run("--task", "text_generation", "--model_type", str(work / "init"), "--run_mode", "train",
                            "--train_dataset", str(work / "pretrain.txt"), "--output_dir", str(work / "base"),
                            "--seq_length", "128", "--batch_size", "16", "--learning_rate", "1e-3",
                            "--warmup_ratio", "0.05", "--num_train_epochs", str(args.pretrain_epochs),
                            "--save_steps", "0", "--plot_loss", "false", "--logging_steps", "50")
        print(f"1. pre-training (mf run --run_mode train): {minutes:.1f} min", flush=True)
        line, minutes = mf_run("--task", "text_generation", "--load_checkpoint", str(work / "base"),
                               "--run_mode", "eval", "--eval_dataset", str(work / "eval.jsonl"),
                               "--output_dir", str(work / "eval-base"), *EVAL_OPTIONS)
        before = json.loads(line)
        print(f"2. base model evaluation (mf run --run_mode eval): {minutes:.1f} min", flush=True)

        started = time.perf_counter()
        ms.set_seed(0)
        training = TrainingArguments(output_dir=str(work / "lora"), num_train_epochs=args.lora_epochs, batch_size=8,
                                     learning_rate=args.lora_lr, warmup_ratio=0.05, seq_length=96, save_steps=0,
                                     plot_loss=False, logging_steps=50)
        trainer = Trainer(task="text_generation", model=str(work / "base"), args=training, pet_method="lora",
                          train_dataset=str(work / "train.jsonl"), r=8, lora_alpha=32, lora_dropout=0.1,
                          target_modules=["query_key_value"])
        trainer.finetune()
        model = merge_and_unload(trainer.model)
        model.save_pretrained(work / "lora-merged")
        trainer.tokenizer.save_pretrained(work / "lora-merged")
        print(f"3. LoRA fine-tuning (Trainer.finetune, rank 8 on query_key_value, {args.lora_epochs:g} epochs): "
              f"{(time.perf_counter() - started) / 60:.1f} min", flush=True)
        line, minutes = mf_run("--task", "text_generation", "--load_checkpoint", str(work / "lora-merged"),
                               "--run_mode", "eval", "--eval_dataset", str(work / "eval.jsonl"),
                               "--output_dir", str(work / "eval-lora"), *EVAL_OPTIONS)
        after = json.loads(line)
        print(f"4. fine-tuned model evaluation: {minutes:.1f} min")

    print(f"\nheld-out chat pairs ({len(held_out)}), greedy answers of up to 32 tokens")
    print(f"{'':14}{'base':>10}{'LoRA':>10}")
    for name in ("eval_loss", "eval_bleu-4", "eval_rouge-1", "eval_rouge-2", "eval_rouge-l", "eval_gen_len"):
        print(f"{name[5:]:14}{before[name]:10.3f}{after[name]:10.3f}")


if __name__ == "__main__":
    main()
