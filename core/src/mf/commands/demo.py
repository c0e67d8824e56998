"""`mf demo`: the README's main job. Trains a small GPT-2 from scratch on a public-domain
novel shipped with mf-core, and shows what it learned."""
import tempfile
import time
from importlib import resources
from pathlib import Path


def register(cli):
    parser = cli.add_command("demo", "train a small GPT-2 from scratch on an embedded novel (about 2 minutes)", run)
    parser.add_argument("--model", default="gpt2_tiny", help="GPT-2 preset to train from random weights")
    parser.add_argument("--steps", type=int, default=240, help="optimizer steps")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-length", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--output", default=None, help="output directory (default: a temporary one)")
    parser.add_argument("--prompt", default="I was", help="prompt for the sample at the end")


def novel_text() -> str:
    text = (resources.files("mf") / "data" / "texts" / "botchan.txt").read_text(encoding="utf-8-sig")
    return text.replace("\r\n", "\n")


def run(args) -> int:
    import mindspore as ms

    from ..auto import AutoConfig, AutoModel, AutoTokenizer
    from ..data import pack_documents
    from ..kernels import status
    from ..trainer import Trainer, TrainingArguments

    ms.set_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    text = novel_text()
    cut = text.index("\n", int(len(text) * 0.9))  # the last tenth of the novel is never trained on
    train, _ = pack_documents([text[:cut]], tokenizer, args.seq_length, "botchan (train)")
    evaluation, _ = pack_documents([text[cut:]], tokenizer, args.seq_length, "botchan (eval)")
    print(f"Botchan by Natsume Soseki: {len(train)} training and {len(evaluation)} held-out samples of "
          f"{args.seq_length + 1} tokens; {status()}")
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(args.output or scratch)
        training_args = TrainingArguments(output_dir=str(output), per_device_train_batch_size=args.batch_size,
                                          learning_rate=args.learning_rate, max_steps=args.steps,
                                          warmup_steps=args.steps // 10, lr_scheduler_type="cosine",
                                          weight_decay=0.01, logging_steps=20, save_steps=0, seed=0)
        model = AutoModel.from_config(AutoConfig.from_pretrained(args.model))  # random weights
        trainer = Trainer(task="text_generation", model=model, args=training_args, train_dataset=train,
                          eval_dataset=evaluation, tokenizer=tokenizer)
        before = trainer.evaluate()["eval_perplexity"]
        print(f"held-out perplexity of the untrained {args.model}: {before:,.1f}")
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
        after = trainer.evaluate()["eval_perplexity"]
        print(f"trained {args.steps} steps in {seconds:.0f} s; held-out perplexity {before:,.1f} -> {after:,.1f}")
        sample = trainer.predict(args.prompt, max_new_tokens=40, do_sample=True, top_k=40, temperature=0.8, seed=0)
        print(f"sample: {sample[0]['text_generation_text'][0]!r}")
        if args.output:
            print(f"model, tokenizer, metrics.jsonl and loss_curve.png are in {output}")
    return 0 if after < before else 1
