"""`mf demo-vision`: the image side of the README's main job. Trains a small ViT from scratch to tell the
category of a Twemoji emoji (the shared image-caption pairs: 1943 emoji in 9 categories, a fixed fifth held
out), reports held-out accuracy against always guessing the largest category, and shows what the model
makes of the shared photos (a cat, a horse, a rocket, ...). Needs mf-vision.
"""
import json
import time
from collections import Counter
from pathlib import Path

SHARED = Path(__file__).resolve().parents[4].parent / "shared" / "data" / "images"


def register(cli):
    parser = cli.add_command("demo-vision", "train a small ViT from scratch on emoji images (a few minutes) and "
                                            "classify photos", run)
    parser.add_argument("--data", default=str(SHARED / "twemoji"),
                        help="the Twemoji folder (captions.jsonl and images/); default: ../shared/data/images/twemoji")
    parser.add_argument("--photos", default=str(SHARED), help="photos to classify at the end")
    parser.add_argument("--steps", type=int, default=600, help="optimizer steps")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--output", default="output/demo-vision", help="where the model and results are kept")


def split_emoji(data: Path, work: Path):
    """train.jsonl / test.jsonl of {"image", "label": category}: every fifth categorised emoji (in file order) is
    held out."""
    from ..errors import MFError

    captions = data / "captions.jsonl"
    if not captions.is_file():
        raise MFError(f"{captions} does not exist: pass --data with the Twemoji folder of ../shared/data/images")
    records = [json.loads(line) for line in captions.read_text(encoding="utf-8").splitlines() if line.strip()]
    records = [r for r in records if r.get("category")]
    splits = {"train": [], "test": []}
    for i, record in enumerate(records):
        line = json.dumps({"image": str(data / record["image"]), "label": record["category"]})
        splits["test" if i % 5 == 0 else "train"].append(line)
    for name, lines in splits.items():
        (work / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Counter(json.loads(line)["label"] for line in splits["test"])


def run(args) -> int:
    import mindspore as ms

    from ..auto import AutoConfig, AutoModel
    from ..errors import MFError
    from ..image_processing import ImageProcessor
    from ..plugins import get_registry
    from ..trainer import Trainer, TrainingArguments

    if get_registry().models.get("vit") is None:
        raise MFError("mf demo-vision trains a ViT, which mf-vision provides: pip install mf-vision")
    ms.set_seed(0)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    test_counts = split_emoji(Path(args.data), output)
    categories = sorted(test_counts)
    chance = max(test_counts.values()) / sum(test_counts.values())
    print(f"Twemoji: {sum(1 for _ in open(output / 'train.jsonl'))} training and {sum(test_counts.values())} "
          f"held-out emoji in {len(categories)} categories (largest category: {chance:.1%} of the held-out ones)")
    config = AutoConfig.for_model("vit", image_size=32, patch_size=4, hidden_size=128, num_hidden_layers=4,
                                  num_attention_heads=4, intermediate_size=256,
                                  id2label={str(i): name for i, name in enumerate(categories)})
    processor = ImageProcessor(size=32, resample="bicubic", image_mean=[0.5] * 3, image_std=[0.5] * 3)
    training_args = TrainingArguments(output_dir=str(output), per_device_train_batch_size=args.batch_size,
                                      learning_rate=args.learning_rate, max_steps=args.steps,
                                      warmup_steps=args.steps // 20, lr_scheduler_type="cosine", weight_decay=0.05,
                                      logging_steps=50, save_steps=0, seed=0, per_device_eval_batch_size=128,
                                      random_resized_crop_scale=[0.6, 1.0], random_flip=True)
    model = AutoModel.from_config(config)  # random weights
    trainer = Trainer(task="image_classification", model=model, args=training_args,
                      train_dataset=str(output / "train.jsonl"), eval_dataset=str(output / "test.jsonl"),
                      image_processor=processor)
    before = trainer.evaluate()["eval_accuracy"]
    print(f"held-out accuracy of the untrained {model.num_parameters():,}-parameter ViT: {before:.1%}")
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    metrics = trainer.evaluate()
    after = metrics["eval_accuracy"]
    print(f"trained {args.steps} steps in {seconds:.0f} s; held-out accuracy {before:.1%} -> {after:.1%} "
          f"(top-5 {metrics['eval_top5_accuracy']:.1%}; largest category {chance:.1%})")
    photos = sorted(p for p in Path(args.photos).glob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    predictions = {}
    if photos:
        results = trainer.predict([str(p) for p in photos], top_k=2)
        for photo, ranked in zip(photos, results):
            predictions[photo.name] = ranked
            print(f"{photo.name:>14}: " + ", ".join(f"{r['label']} {r['score']:.0%}" for r in ranked))
    (output / "demo.json").write_text(json.dumps({"steps": args.steps, "train_seconds": round(seconds, 1),
                                                  "accuracy_before": before, "accuracy_after": after,
                                                  "largest_category": chance, "photos": predictions}) + "\n")
    print(f"kept in {output}/: model.safetensors, config.json, preprocessor_config.json (the trained model), "
          f"metrics.jsonl, loss_curve.png, train/test.jsonl, demo.json")
    return 0 if after > chance else 1
