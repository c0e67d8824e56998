"""`mf demo`: the README's main job. Trains a small GPT-2 from scratch on a public-domain novel
shipped with mf-core, and shows what it learned.

The model reads UTF-8 bytes (mf's ByteTokenizer): with 260 symbols instead of GPT-2's 50257, a
small model learns to spell the novel's words within the two-minute budget, so the sample at the
end reads as English rather than as frequent-token soup.
"""
import json
import time
from importlib import resources
from pathlib import Path


def register(cli):
    parser = cli.add_command("demo", "train a small GPT-2 from scratch on an embedded novel (under 2 minutes)", run)
    parser.add_argument("--steps", type=int, default=700, help="optimizer steps")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seq-length", type=int, default=128, help="bytes per training sample")
    parser.add_argument("--learning-rate", type=float, default=4e-3)
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--output", default="output/demo",
                        help="where the model, metrics, loss curve and samples are kept (default: output/demo)")
    parser.add_argument("--prompt", action="append", default=None,
                        help="prompt for a sample at the end (repeat for several; default: three from the novel)")


def novel_text() -> str:
    text = (resources.files("mf") / "data" / "texts" / "botchan.txt").read_text(encoding="utf-8-sig")
    return text.replace("\r\n", "\n")


def run(args) -> int:
    import mindspore as ms

    from ..auto import AutoConfig, AutoModel
    from ..data import pack_documents
    from ..kernels import status
    from ..tokenization import ByteTokenizer
    from ..trainer import Trainer, TrainingArguments

    ms.set_seed(0)
    output = Path(args.output)
    tokenizer = ByteTokenizer()
    text = novel_text()
    cut = text.index("\n", int(len(text) * 0.9))  # the last tenth of the novel is never trained on
    train, _ = pack_documents([text[:cut]], tokenizer, args.seq_length, "botchan (train)")
    evaluation, _ = pack_documents([text[cut:]], tokenizer, args.seq_length, "botchan (eval)")
    print(f"Botchan by Natsume Soseki: {len(train)} training and {len(evaluation)} held-out samples of "
          f"{args.seq_length + 1} bytes; {status()}")
    config = AutoConfig.for_model(
        "gpt2", vocab_size=tokenizer.vocab_size, seq_length=4 * args.seq_length, hidden_size=args.hidden_size,
        num_layers=args.layers, num_heads=max(1, args.hidden_size // 32), hidden_dropout=0.0, embedding_dropout=0.0,
        attention_dropout=0.0, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id)
    training_args = TrainingArguments(output_dir=str(output), per_device_train_batch_size=args.batch_size,
                                      learning_rate=args.learning_rate, max_steps=args.steps,
                                      warmup_steps=args.steps // 20, lr_scheduler_type="cosine",
                                      weight_decay=0.01, logging_steps=25, save_steps=0, seed=0)
    model = AutoModel.from_config(config)  # random weights
    trainer = Trainer(task="text_generation", model=model, args=training_args, train_dataset=train,
                      eval_dataset=evaluation, tokenizer=tokenizer)
    before = trainer.evaluate()["eval_perplexity"]
    print(f"held-out perplexity (per byte) of the untrained {model.num_parameters():,}-parameter GPT-2: "
          f"{before:,.1f}")
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    after = trainer.evaluate()["eval_perplexity"]
    print(f"trained {args.steps} steps in {seconds:.0f} s; held-out perplexity {before:,.1f} -> {after:,.2f}")
    samples = []
    for prompt in args.prompt or ["I was", "The school", "Kiyo"]:
        result = trainer.predict(prompt, max_new_tokens=120, do_sample=True, top_k=10, temperature=0.7, seed=0)
        samples.append({"prompt": prompt, "text": result[0]["text_generation_text"][0]})
        print(f"sample: {samples[-1]['text']!r}")
    (output / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples), encoding="utf-8")
    (output / "demo.json").write_text(json.dumps({"steps": args.steps, "train_seconds": round(seconds, 1),
                                                  "perplexity_before": before, "perplexity_after": after}) + "\n")
    print(f"kept in {output}/: model.safetensors and config.json (the trained model), tokenizer_config.json, "
          f"metrics.jsonl, loss_curve.png, samples.jsonl, demo.json")
    return 0 if after < before else 1
