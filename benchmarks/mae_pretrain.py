"""MAE pre-training from scratch on real images: the reconstruction loss of held-out images before and after.

    ./dev python benchmarks/mae_pretrain.py [--epochs 30 --save docs/images/mae-twemoji.png]

The 2104 Twemoji images (64x64, ../shared/data/images/twemoji): every tenth is held out (fixed), the rest
pre-train a small MAE (encoder 4 layers of width 128 on 8 px patches, decoder 2 layers of width 64, 75% of
the patches hidden, per-patch normalised pixel loss) with the Trainer's masked_image_modeling task. Printed:
the held-out reconstruction loss (fixed masks) before and after, and the minutes on this machine. --save
writes, for four held-out images, original | masked | reconstruction rows before (top) and after training.
"""
import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
TWEMOJI = HERE.parents[1] / "shared" / "data" / "images" / "twemoji"


def rows(model, processor, images):
    """original | masked | reconstruction for each image, one row each (the same masks every time)."""
    from mf import pipeline
    from mf.pipelines.masked_image_modeling import side_by_side

    reconstruct = pipeline("masked_image_modeling", model=model, image_processor=processor)
    results = reconstruct(images, mask_seed=0)
    return [side_by_side([r["original"], r["masked"], r["reconstruction"]]) for r in results]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=float, default=30)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1.5e-3)
    parser.add_argument("--save", default=None, help="PNG of four held-out images before and after")
    args = parser.parse_args()

    import mindspore as ms
    from PIL import Image

    from mf import Trainer, TrainingArguments
    from mf.image_processing import ImageProcessor
    from mf_vision import ViTMAEConfig, ViTMAEForPreTraining

    files = sorted((TWEMOJI / "images").glob("*.png"))
    heldout, train = files[::10], [f for i, f in enumerate(files) if i % 10]
    ms.set_seed(0)
    config = ViTMAEConfig(image_size=64, patch_size=8, hidden_size=128, num_hidden_layers=4, num_attention_heads=4,
                          intermediate_size=256, decoder_hidden_size=64, decoder_num_hidden_layers=2,
                          decoder_num_attention_heads=4, decoder_intermediate_size=128, norm_pix_loss=True)
    model = ViTMAEForPreTraining(config)
    processor = ImageProcessor(size={"height": 64, "width": 64}, image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        for name, group in (("train", train), ("heldout", heldout)):
            (work / name).mkdir()
            for file in group:
                (work / name / file.name).symlink_to(file)
        training = TrainingArguments(output_dir=str(work / "out"), num_train_epochs=args.epochs, batch_size=args.batch,
                                     learning_rate=args.lr, warmup_steps=100, weight_decay=0.05, save_steps=0,
                                     logging_steps=100, plot_loss=False, lr_scheduler_type="cosine", seed=0,
                                     per_device_eval_batch_size=64)
        trainer = Trainer(task="masked_image_modeling", model=model, image_processor=processor, args=training,
                          train_dataset=str(work / "train"), eval_dataset=str(work / "heldout"))
        examples = [str(f) for f in heldout[:4]]
        before_rows = rows(model, processor, examples)
        before = trainer.evaluate()["eval_loss"]
        start = time.perf_counter()
        state = trainer.train()
        minutes = (time.perf_counter() - start) / 60
        after = trainer.evaluate()["eval_loss"]
        after_rows = rows(model, processor, examples)
    print(f"Twemoji: {len(train)} training images, {len(heldout)} held out")
    print(f"held-out reconstruction loss (normalised pixels, 75% hidden): {before:.4f} -> {after:.4f}")
    print(f"{state.global_step} steps of {args.batch} in {minutes:.1f} min on {os.cpu_count()} cores; "
          f"{model.num_parameters(only_trainable=True):,} trainable parameters")
    if args.save:
        from mf.pipelines.masked_image_modeling import side_by_side

        grid = np.concatenate([side_by_side([b, a], gap=12) for b, a in zip(before_rows, after_rows)], 0)
        Path(args.save).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(grid).save(args.save)
        print(f"saved {args.save}: each row original | masked | reconstruction, untrained (left), trained (right)")


if __name__ == "__main__":
    main()
