"""Training a small ViT to accuracy on real images: Fashion-MNIST (60000 training, 10000 test 28x28 grey images).

    ./dev python benchmarks/vit_fashion_mnist.py [--epochs 4 --batch 128 --lr 2e-3]

The IDX files from ../shared/data/scripts/fetch-large.sh fashion-mnist. mf (Trainer, task
image_classification, reading the IDX files itself) and transformers + PyTorch (ViTForImageClassification of the
same configuration, the same recipe: AdamW, linear decay, the same batches without augmentation) train in turn
in their own processes; printed: each side's test accuracy, seconds per epoch, and the step-time ratio.
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
FASHION = Path(os.environ.get("MF_TESTDATA", Path.home() / ".cache" / "mf-testdata")) / "fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
# a ViT for 28x28 grey images: 7x7 patches of 4 pixels, 4 blocks of width 128
MODEL = dict(model_type="vit", image_size=28, patch_size=4, num_channels=1, hidden_size=128, num_hidden_layers=4,
             num_attention_heads=4, intermediate_size=256, hidden_act="gelu", layer_norm_eps=1e-12,
             id2label={str(i): name for i, name in enumerate(CLASSES)},
             label2id={name: i for i, name in enumerate(CLASSES)})
PROCESSOR = dict(image_processor_type="ViTImageProcessor", do_resize=False, size={"height": 28, "width": 28},
                 do_rescale=True, rescale_factor=1 / 255, do_normalize=True, image_mean=[0.2860], image_std=[0.3530],
                 num_channels=1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=float, default=4)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--flip", action="store_true", help="mf: random horizontal flips while training")
    parser.add_argument("--patch-size", type=int, default=4, help="4: a 7x7 grid of patches; 7: 4x4")
    parser.add_argument("--width", type=int, default=128, help="hidden size (the MLP is twice as wide)")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--warmup-ratio", type=float, default=0.0, help="mf: linear warm-up over this part of the steps")
    parser.add_argument("--crop-min", type=float, default=1.0,
                        help="mf: random resized crops of this much of the image up to all of it (1: no cropping)")
    parser.add_argument("--stem", default="",
                        help="channels of 3x3 stride-2 convolutions before the patch projection, e.g. 32,64 "
                             "(Xiao et al. 2021's early convolutions; both sides); empty: the plain ViT")
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()
    if not (FASHION / "train-images-idx3-ubyte.gz").is_file():
        raise SystemExit(f"no {FASHION}: run ../shared/data/scripts/fetch-large.sh first")
    with tempfile.TemporaryDirectory() as work:
        model_dir = Path(work) / "vit-fashion"
        model_dir.mkdir()
        (model_dir / "config.json").write_text(json.dumps(dict(MODEL, patch_size=args.patch_size, hidden_size=args.width,
                                                                 intermediate_size=2 * args.width,
                                                                 num_hidden_layers=args.layers,
                                                                 num_attention_heads=args.heads,
                                                                 stem_channels=[int(c) for c in args.stem.split(",")
                                                                                if c])))
        (model_dir / "preprocessor_config.json").write_text(json.dumps(PROCESSOR))
        common = [str(FASHION), str(model_dir), str(args.epochs), str(args.batch), str(args.lr)]
        mf = subprocess.run([sys.executable, str(HERE / "_mf_vit_fashion.py"), *common, str(int(args.flip)),
                             str(args.warmup_ratio), str(args.crop_min)],
                            capture_output=True, text=True)
        if mf.returncode != 0:
            raise SystemExit(mf.stderr[-4000:])
        mf = json.loads(mf.stdout.strip().splitlines()[-1])
        print(f"mf:           test accuracy {mf['accuracy']:.4f} (top-5 {mf['top5']:.4f}), {mf['epoch_seconds']:.0f} "
              f"s/epoch, {mf['step_ms']:.1f} ms/step ({mf['steps']} steps of {args.batch}), "
              f"{mf['total_seconds'] / 60:.1f} min in all", flush=True)
        if args.skip_reference:
            return
        pt = json.loads(run_reference("_torch_vit_fashion.py", *common, args.threads).strip().splitlines()[-1])
        print(f"transformers: test accuracy {pt['accuracy']:.4f}, {pt['epoch_seconds']:.0f} s/epoch, "
              f"{pt['step_ms']:.1f} ms/step")
        print(f"step-time ratio mf / PyTorch: {mf['step_ms'] / pt['step_ms']:.2f}; "
              f"accuracy mf - PyTorch: {mf['accuracy'] - pt['accuracy']:+.4f}")


if __name__ == "__main__":
    main()
