"""The image_classification task end to end with mf-vision's tiny ViT: the three image dataset formats, the
Trainer (train, evaluate with accuracy/top-5, predict), the pipeline from the saved output and `mf run`, and
bad data named clearly. Real-data accuracy is measured in benchmarks/vit_fashion_mnist.py."""
import gzip
import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mf import Trainer, TrainingArguments, pipeline
from mf.data import DatasetError
from mf.data.images import read_labelled_images, read_idx
from mf.tasks.image_classification import augment, crop_box, top_k_accuracy
from mf.testing import isolate_caches

IMAGES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "images"
COLOURS = {"red": (220, 40, 40), "green": (40, 200, 40), "blue": (40, 40, 220)}


@pytest.fixture(autouse=True)
def _caches(tmp_path_factory, monkeypatch):
    isolate_caches(tmp_path_factory, monkeypatch)


def colour_folder(root: Path, per_class=6, size=(30, 26)):
    rng = np.random.default_rng(0)
    for label, colour in COLOURS.items():
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = np.clip(np.array(colour) + rng.integers(-40, 40, size + (3,)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / label / f"{i}.png")
    return root


def write_idx(path: Path, array: np.ndarray):
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_the_three_formats_read_the_same_labelled_images(tmp_path):
    folder = colour_folder(tmp_path / "folder", per_class=2)
    data = read_labelled_images(folder)
    assert sorted(set(data.labels)) == ["blue", "green", "red"] and len(data.images) == 6
    lines = [json.dumps({"image": str(Path(p).relative_to(tmp_path)), "label": label})
             for p, label in zip(data.images, data.labels)]
    (tmp_path / "list.jsonl").write_text("\n".join(lines) + "\n")
    listed = read_labelled_images(tmp_path / "list.jsonl")
    assert listed.images == data.images and list(listed.labels) == list(data.labels)
    images = np.arange(3 * 4 * 5).reshape(3, 4, 5) % 256
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.array([2, 0, 1]))
    idx = read_labelled_images(tmp_path / "train-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(idx.images, images)
    assert idx.labels == [2, 0, 1]


def test_bad_image_data_is_named(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((2, 3, 3)))
    with pytest.raises(DatasetError, match="no labels file"):
        read_labelled_images(tmp_path / "train-images-idx3-ubyte.gz")
    with gzip.open(tmp_path / "cut-images-idx3-ubyte.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + struct.pack(">3I", 5, 3, 3) + b"\0" * 10)
    with pytest.raises(DatasetError, match="truncated"):
        read_idx(tmp_path / "cut-images-idx3-ubyte.gz")
    (tmp_path / "list.jsonl").write_text(json.dumps({"image": "missing.png", "label": 0}) + "\n")
    with pytest.raises(DatasetError, match="missing.png does not exist"):
        read_labelled_images(tmp_path / "list.jsonl")
    with pytest.warns(UserWarning, match="skipping"), pytest.raises(DatasetError, match="no labelled images"):
        read_labelled_images(tmp_path / "list.jsonl", on_bad_line="skip")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="cannot tell the image format"):
        read_labelled_images(tmp_path / "empty")


def test_augmentation_draws_torchvision_boxes_and_keeps_shapes():
    rng = np.random.default_rng(0)
    for _ in range(200):
        top, left, h, w = crop_box(rng, 30, 20)
        assert 0 <= top and top + h <= 30 and 0 <= left and left + w <= 20 and h > 0 and w > 0
        assert 0.08 * 600 * 0.5 <= h * w  # about the smallest area share (rounding aside)
    pixels = np.random.default_rng(1).integers(0, 255, (4, 3, 30, 20)).astype(np.uint8)
    out = augment(pixels, np.random.default_rng(2))
    assert out.shape == pixels.shape and out.dtype == np.uint8 and not np.array_equal(out, pixels)
    same = augment(pixels, np.random.default_rng(2))
    np.testing.assert_array_equal(out, same)  # the generator decides everything: resumable
    flipped = augment(pixels, np.random.default_rng(3), scale=(1.0, 1.0), flip=True)
    for original, result in zip(pixels, flipped):
        assert np.array_equal(result, original) or np.array_equal(result, original[:, :, ::-1])
    logits = np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1]])
    assert top_k_accuracy(logits, [0, 0], 1) == 0.5 and top_k_accuracy(logits, [0, 0], 2) == 1.0


def test_trainer_trains_evaluates_predicts_and_the_output_serves_the_pipeline(tmp_path):
    data = colour_folder(tmp_path / "colours")
    args = TrainingArguments(output_dir=str(tmp_path / "out"), per_device_train_batch_size=6, max_steps=8,
                             learning_rate=1e-2, warmup_steps=0, save_steps=0, logging_steps=1, plot_loss=False,
                             seed=0, random_resized_crop_scale=[0.5, 1.0])
    trainer = Trainer(task="image_classification", model="vit_tiny", args=args, train_dataset=str(data),
                      eval_dataset=str(data))
    trainer.train()
    metrics = trainer.evaluate()
    assert metrics["eval_accuracy"] == 1.0 and metrics["eval_top5_accuracy"] == 1.0, metrics
    assert trainer.state.log_history[-1]["loss"] < trainer.state.log_history[0]["loss"]
    assert trainer.predict(str(data / "green" / "0.png"))[0]["label"] == "green"
    assert json.loads((tmp_path / "out" / "config.json").read_text())["id2label"] == \
        {"0": "blue", "1": "green", "2": "red"}
    classify = pipeline("image_classification", model=str(tmp_path / "out"))
    results = classify([str(data / "red" / "1.png"), Image.open(data / "blue" / "2.png")], top_k=3)
    assert [r[0]["label"] for r in results] == ["red", "blue"]
    assert len(results[0]) == 3 and abs(sum(r["score"] for r in results[0]) - 1) < 1e-5
    assert results[0][0]["score"] >= results[0][1]["score"] >= results[0][2]["score"]
    single = classify(np.asarray(Image.open(data / "green" / "3.png")), top_k=1)
    assert single == [single[0]] and single[0]["label"] == "green"


def test_mf_run_trains_and_evaluates_an_image_folder(tmp_path):
    data = colour_folder(tmp_path / "colours", per_class=4)
    command = [sys.executable, "-m", "mf.cli", "run", "--task", "image_classification", "--model_type", "vit_tiny",
               "--train_dataset", str(data), "--run_mode", "train", "--output_dir", str(tmp_path / "out"),
               "--max_steps", "3", "--batch_size", "4", "--save_steps", "0", "--plot_loss", "false",
               "--random_resized_crop_scale", "0.6,1"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    result = subprocess.run([sys.executable, "-m", "mf.cli", "run", "--task", "image_classification", "--model_type",
                             str(tmp_path / "out"), "--eval_dataset", str(data), "--run_mode", "eval"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert 0 <= metrics["eval_accuracy"] <= 1 and "eval_top5_accuracy" in metrics


@pytest.mark.skipif(not IMAGES.is_dir(), reason=f"the shared photos are not at {IMAGES}")
def test_the_pipeline_takes_real_photos_of_any_size():
    from mf import AutoConfig, AutoImageProcessor
    from mf_vision import ViTForImageClassification

    model = ViTForImageClassification(AutoConfig.from_pretrained("vit_tiny"))  # random weights: a test size
    classify = pipeline("image_classification", model=model, image_processor=AutoImageProcessor.from_pretrained("vit_tiny"))
    results = classify([str(IMAGES / "chelsea.png"), str(IMAGES / "horse.png"), str(IMAGES / "rocket.jpg")])
    assert len(results) == 3 and all(len(r) == 2 for r in results)  # vit_tiny has two labels


@pytest.mark.skipif(not IMAGES.is_dir(), reason=f"the shared photos are not at {IMAGES}")
def test_the_tutorials_pipeline_fetches_vit_base_p16_from_the_hub(tmp_path):
    """`pipeline("image_classification", model="vit_base_p16")` downloads google/vit-base-patch16-224 (served here
    by a local stand-in holding a tiny ViT with five labels and its preprocessor_config.json)."""
    import os
    import shutil

    sys.path.insert(0, str(Path(__file__).parent))  # the test helper beside this file (pytest's importlib mode)
    from hub_server import HubServer

    fixture = Path(__file__).resolve().parents[1] / "plugins" / "mf-vision" / "tests" / "fixtures" / "tiny-vit"
    repo = tmp_path / "vit-base-patch16-224"
    shutil.copytree(fixture, repo)
    (repo / "preprocessor_config.json").write_text(json.dumps(
        {"image_processor_type": "ViTImageProcessor", "size": {"height": 32, "width": 32}, "resample": 2,
         "do_normalize": True, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}))
    code = ("from mf import pipeline\n"
            "classify = pipeline(task='image_classification', model='vit_base_p16')\n"
            f"print(classify({str(IMAGES / 'chelsea.png')!r}, top_k=3))\n")
    with HubServer({"google/vit-base-patch16-224": repo}) as hub:
        env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0", "HF_HOME": str(tmp_path / "hf"),
               "MF_HOME": str(tmp_path / "mf"), "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    ranked = eval(result.stdout.strip().splitlines()[-1])  # the printed list of {'label', 'score'}
    assert len(ranked) == 3 and {r["label"] for r in ranked} <= {"cat", "dog", "boat", "plane", "horse"}
