"""Contrastive pre-training from scratch on real image-caption pairs, then zero-shot classification.

    ./dev python benchmarks/clip_contrastive.py                     # Twemoji (../shared/data/images/twemoji)
    ./dev python benchmarks/clip_contrastive.py --data fashion      # Fashion-MNIST, captions from class names

Twemoji: 2104 emoji (64x64) with captions ("an emoji of taco") and 9 categories. Every tenth image that has a
category is held out (fixed); the rest train. The training caption is the given caption and the category
("an emoji of taco, food & drink"), so that category words are in the text the model learns from; images
without a category train with their caption alone. Measured on the held-out images, before and after
training: zero-shot accuracy over the 9 categories (prompt "an emoji of {category}"), and recall@1/5 of
image -> caption and caption -> image retrieval among the held-out pairs (the Trainer's evaluation).

Fashion-MNIST (`fetch-large.sh fashion-mnist`): --train-images training images captioned "a photo of a
{class}" (a grey 28x28 CLIP), then zero-shot accuracy over the 10 class names on the whole test set.

A small CLIP (both towers --width wide, --layers deep, 4 heads; the real 49408-token CLIP BPE) trains with
the Trainer's contrastive_language_image_pretrain task on 2 cores; printed: the numbers above and the minutes.
"""
import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
TWEMOJI = HERE.parents[1] / "shared" / "data" / "images" / "twemoji"
FASHION = Path(os.environ.get("MF_TESTDATA", Path.home() / ".cache" / "mf-testdata")) / "fashion-mnist"
FASHION_CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                   "ankle boot"]
CLIP_MEAN, CLIP_STD = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]


def twemoji_split(work: Path):
    """(train.jsonl, held-out.jsonl, held-out categories, category names)."""
    records = [json.loads(line) for line in (TWEMOJI / "captions.jsonl").read_text().splitlines() if line.strip()]
    categorised = [r for r in records if r.get("category")]
    held = {id(r) for r in categorised[::10]}
    train, heldout = [], []
    for r in records:
        image = str(TWEMOJI / r["image"])
        if id(r) in held:
            heldout.append({"image": image, "caption": r["caption"], "category": r["category"].lower()})
        else:
            caption = f"{r['caption']}, {r['category'].lower()}" if r.get("category") else r["caption"]
            train.append({"image": image, "caption": caption})
    for name, rows in (("train", train), ("heldout", heldout)):
        (work / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    categories = sorted({r["category"] for r in heldout})
    return work / "train.jsonl", work / "heldout.jsonl", [r["category"] for r in heldout], categories


def fashion_split(work: Path, train_images: int):
    """(train.jsonl of captioned PNGs, test images array [N, 28, 28], test labels)."""
    from PIL import Image

    from mf.data.images import read_idx

    if not (FASHION / "train-images-idx3-ubyte.gz").is_file():
        raise SystemExit(f"no {FASHION}: run ../shared/data/scripts/fetch-large.sh fashion-mnist first")
    images = read_idx(FASHION / "train-images-idx3-ubyte.gz")[:train_images]
    labels = read_idx(FASHION / "train-labels-idx1-ubyte.gz")[:train_images]
    (work / "images").mkdir()
    lines = []
    for i, (image, label) in enumerate(zip(images, labels)):
        Image.fromarray(image).save(work / "images" / f"{i}.png")
        lines.append(json.dumps({"image": f"images/{i}.png", "caption": f"a photo of a {FASHION_CLASSES[label]}"}))
    (work / "train.jsonl").write_text("\n".join(lines) + "\n")
    return work / "train.jsonl", read_idx(FASHION / "t10k-images-idx3-ubyte.gz"), \
        read_idx(FASHION / "t10k-labels-idx1-ubyte.gz")


def build(args, image_size, patch_size, channels, mean, std):
    import mindspore as ms

    from mf.image_processing import ImageProcessor
    from mf_vision import CLIPConfig, CLIPModel, CLIPProcessor, CLIPTokenizer

    ms.set_seed(0)
    tower = dict(hidden_size=args.width, intermediate_size=2 * args.width, num_hidden_layers=args.layers,
                 num_attention_heads=4)
    config = CLIPConfig(text_config=dict(tower, max_position_embeddings=32),
                        vision_config=dict(tower, image_size=image_size, patch_size=patch_size, num_channels=channels),
                        projection_dim=args.width)
    processor = CLIPProcessor(ImageProcessor(size={"height": image_size, "width": image_size}, image_mean=mean,
                                             image_std=std, num_channels=channels), CLIPTokenizer(), max_length=32)
    return CLIPModel(config), processor


def zero_shot_accuracy(model, processor, images, truth, labels, template, batch=256):
    from mf import pipeline

    classify = pipeline("zero_shot_image_classification", model=model, processor=processor, batch_size=batch)
    predicted = [r[0]["label"] for r in classify(list(images), candidate_labels=labels,
                                                 hypothesis_template=template)]
    return float(np.mean([p == t for p, t in zip(predicted, truth)]))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", choices=["twemoji", "fashion"], default="twemoji")
    parser.add_argument("--epochs", type=float, default=40)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--train-images", type=int, default=12000, help="fashion: how many training images")
    args = parser.parse_args()

    from mf import Trainer, TrainingArguments

    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        if args.data == "twemoji":
            train, heldout, truth, labels = twemoji_split(work)
            model, processor = build(args, 64, 8, 3, CLIP_MEAN, CLIP_STD)
            images = [json.loads(line)["image"] for line in heldout.read_text().splitlines()]
            template = "an emoji of {}"
            print(f"Twemoji: {len(train.read_text().splitlines())} training pairs, {len(images)} held out; "
                  f"{len(labels)} categories, largest held-out share {max(truth.count(c) for c in labels) / len(truth):.3f}")
        else:
            train, images, labels_array = fashion_split(work, args.train_images)
            model, processor = build(args, 28, 7, 1, [0.2860], [0.3530])
            truth, labels, heldout = [FASHION_CLASSES[i] for i in labels_array], FASHION_CLASSES, None
            template = "a photo of a {}"
            print(f"Fashion-MNIST: {args.train_images} captioned training images, {len(images)} test images")
        training = TrainingArguments(output_dir=str(work / "out"), num_train_epochs=args.epochs, batch_size=args.batch,
                                     learning_rate=args.lr, warmup_steps=50, weight_decay=0.1, save_steps=0,
                                     logging_steps=50, plot_loss=False, lr_scheduler_type="cosine", seed=0,
                                     per_device_eval_batch_size=256)
        trainer = Trainer(task="contrastive_language_image_pretrain", model=model, tokenizer=processor, args=training,
                          train_dataset=str(train), eval_dataset=str(heldout) if heldout else None)
        before = zero_shot_accuracy(model, processor, images, truth, labels, template)
        retrieval_before = trainer.evaluate() if heldout else {}
        start = time.perf_counter()
        state = trainer.train()
        minutes = (time.perf_counter() - start) / 60
        after = zero_shot_accuracy(model, processor, images, truth, labels, template)
        retrieval_after = trainer.evaluate() if heldout else {}
        print(f"zero-shot accuracy over {len(labels)} classes: {before:.3f} -> {after:.3f} (chance {1 / len(labels):.3f})")
        for key in ("eval_image_to_text_recall@1", "eval_image_to_text_recall@5", "eval_text_to_image_recall@1",
                    "eval_text_to_image_recall@5", "eval_loss"):
            if key in retrieval_after:
                print(f"{key[5:]}: {retrieval_before[key]:.3f} -> {retrieval_after[key]:.3f}")
        print(f"{state.global_step} steps of {args.batch} in {minutes:.1f} min on {os.cpu_count()} cores; "
              f"{model.num_parameters():,} parameters")


if __name__ == "__main__":
    main()
