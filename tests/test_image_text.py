"""The image-text and masked-image tasks end to end with mf-vision's tiny CLIP and MAE: contrastive
pre-training (Trainer, retrieval metrics, `mf run`), zero-shot classification from the saved output, MAE
pre-training and its reconstruction pipeline (the saved PNG triple), and bad data named clearly. Real-data
runs are in benchmarks/clip_twemoji.py and benchmarks/mae_pretrain.py."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mf import Trainer, TrainingArguments, pipeline
from mf.data import DatasetError
from mf.data.images import read_images
from mf.tasks.contrastive import retrieval_recalls
from mf.testing import isolate_caches

COLOURS = {"red": (220, 40, 40), "green": (40, 200, 40), "blue": (40, 40, 220), "yellow": (230, 220, 40),
           "black": (10, 10, 10), "white": (245, 245, 245), "purple": (140, 40, 180), "orange": (250, 140, 20)}


@pytest.fixture(autouse=True)
def _caches(tmp_path_factory, monkeypatch):
    isolate_caches(tmp_path_factory, monkeypatch)


def captioned_colours(root: Path, per_colour=2) -> Path:
    """Squares of eight colours (two shades each) captioned "a <colour> square", as JSONL."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, colour in COLOURS.items():
        for i in range(per_colour):
            pixels = np.clip(np.array(colour) + rng.integers(-25, 25, (28, 24, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / f"{name}-{i}.png")
            lines.append(json.dumps({"image": f"{name}-{i}.png", "caption": f"a {name} square"}))
    (root / "captions.jsonl").write_text("\n".join(lines) + "\n")
    return root / "captions.jsonl"


def test_retrieval_recall_counts_a_repeated_caption_as_a_match():
    images = np.eye(3, dtype=np.float32)
    texts = np.array([[1, 0, 0], [0, 0.5, 1], [0, 1, 0.5]], np.float32)  # captions 1 and 2 nearer the other image
    recalls = retrieval_recalls(images, texts, ["a", "b", "c"], ks=(1, 2))
    assert recalls["image_to_text_recall@1"] == pytest.approx(1 / 3)
    assert recalls["image_to_text_recall@2"] == 1.0
    same = retrieval_recalls(images, texts, ["a", "b", "b"], ks=(1,))  # images 1 and 2 share one caption
    assert same["image_to_text_recall@1"] == 1.0 and same["text_to_image_recall@1"] == 1.0


def test_contrastive_training_learns_to_match_and_the_output_classifies_zero_shot(tmp_path):
    data = captioned_colours(tmp_path / "colours")
    args = TrainingArguments(output_dir=str(tmp_path / "out"), per_device_train_batch_size=8, max_steps=80,
                             learning_rate=5e-3, warmup_steps=0, save_steps=0, logging_steps=5, plot_loss=False,
                             seed=0, per_device_eval_batch_size=16, random_resized_crop_scale=[1.0, 1.0])
    trainer = Trainer(task="contrastive_language_image_pretrain", model="clip_tiny", args=args,
                      train_dataset=str(data), eval_dataset=str(data))
    trainer.train()
    metrics = trainer.evaluate()
    assert trainer.state.log_history[-1]["loss"] < trainer.state.log_history[0]["loss"]
    assert metrics["eval_image_to_text_recall@1"] >= 0.75, metrics  # chance: 1/8
    assert metrics["eval_text_to_image_recall@5"] == 1.0, metrics
    classify = pipeline("zero_shot_image_classification", model=str(tmp_path / "out"))
    labels = list(COLOURS)
    results = classify([str(data.parent / "red-1.png"), str(data.parent / "blue-0.png")], candidate_labels=labels,
                       hypothesis_template="a {} square")
    assert [r[0]["label"] for r in results] == ["red", "blue"]
    assert len(results[0]) == 8 and abs(sum(r["score"] for r in results[0]) - 1) < 1e-5
    single = classify(Image.open(data.parent / "green-0.png"), candidate_labels=labels,
                      hypothesis_template="a {} square")
    assert single[0]["label"] == "green"
    with pytest.raises(ValueError, match="candidate_labels"):
        classify(str(data.parent / "red-1.png"))


def test_bad_caption_data_is_named(tmp_path):
    data = captioned_colours(tmp_path / "colours", per_colour=1)
    lines = data.read_text().splitlines()
    (data.parent / "no-caption.jsonl").write_text(lines[0] + "\n" + json.dumps({"image": "red-0.png"}) + "\n")
    args = TrainingArguments(output_dir=str(tmp_path / "out"), max_steps=1, save_steps=0, plot_loss=False)
    trainer = Trainer(task="contrastive_language_image_pretrain", model="clip_tiny", args=args,
                      train_dataset=str(data.parent / "no-caption.jsonl"))
    with pytest.raises(DatasetError, match='no-caption.jsonl:2: no "caption"'):
        trainer.train()
    (data.parent / "missing.jsonl").write_text(json.dumps({"image": "gone.png", "caption": "a cat"}) + "\n")
    trainer = Trainer(task="contrastive_language_image_pretrain", model="clip_tiny", args=args,
                      train_dataset=str(data.parent / "missing.jsonl"))
    with pytest.raises(DatasetError, match="gone.png does not exist"):
        trainer.train()


def waves(root: Path, count=16) -> Path:
    """Images of smooth coloured waves (random direction, period and phase): what a hidden patch holds can be
    told from its neighbours, as in photos, unlike per-pixel noise."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0:32, 0:32]
    for i in range(count):
        angle, period, phase = rng.uniform(0, np.pi), rng.uniform(4, 10), rng.uniform(0, 2 * np.pi)
        wave = 0.5 + 0.5 * np.sin((x * np.cos(angle) + y * np.sin(angle)) / period * 2 * np.pi + phase)
        colour = rng.uniform(60, 255, 3)
        Image.fromarray((wave[..., None] * colour).astype(np.uint8)).save(root / f"wave-{i}.png")
    return root


def test_mae_pretraining_lowers_the_reconstruction_loss_and_the_pipeline_saves_the_triple(tmp_path):
    data = waves(tmp_path / "waves")
    args = TrainingArguments(output_dir=str(tmp_path / "out"), per_device_train_batch_size=8, max_steps=60,
                             learning_rate=1e-2, warmup_steps=0, save_steps=0, logging_steps=5, plot_loss=False,
                             seed=0, per_device_eval_batch_size=5)
    trainer = Trainer(task="masked_image_modeling", model="mae_tiny", args=args, train_dataset=str(data),
                      eval_dataset=str(data))
    trainer.train()
    first, after = trainer.state.log_history[0]["loss"], trainer.evaluate()["eval_loss"]
    assert after < 0.95 * first, (first, after)  # 1.0 is the untrained model's (normalised pixels)
    assert trainer.evaluate()["eval_loss"] == after  # evaluation masks are fixed
    reconstruct = pipeline("masked_image_modeling", model=str(tmp_path / "out"))
    out = reconstruct(str(data / "wave-0.png"), save_to=str(tmp_path / "wave-mae.png"), mask_seed=0)
    assert out["reconstruction"].shape == out["original"].shape == (32, 32, 3)
    assert out["mask"].shape == (4, 4) and out["mask"].sum() == 12
    saved = np.asarray(Image.open(out["saved"]))
    assert saved.shape == (32, 32 * 3 + 2 * 4, 3)
    np.testing.assert_array_equal(saved[:, :32], out["original"])
    np.testing.assert_array_equal(saved[:, -32:], out["reconstruction"])
    shown = out["mask"].repeat(8, 0).repeat(8, 1) == 0  # the visible patches are the input's own pixels
    np.testing.assert_array_equal(out["reconstruction"][shown], out["original"][shown])
    assert reconstruct(str(data / "wave-0.png"), mask_seed=0)["mask"].tolist() == out["mask"].tolist()


def test_read_images_takes_folders_jsonl_and_idx(tmp_path):
    data = captioned_colours(tmp_path / "colours", per_colour=1)
    from_folder = read_images(data.parent)
    assert len(from_folder) == 8 and all(p.endswith(".png") for p in from_folder)
    assert sorted(read_images(data)) == sorted(from_folder)
    with pytest.raises(DatasetError, match="no image files"):
        (tmp_path / "empty").mkdir()
        read_images(tmp_path / "empty")


def test_mf_run_pretrains_clip_and_evaluates_retrieval(tmp_path):
    data = captioned_colours(tmp_path / "colours", per_colour=1)
    command = [sys.executable, "-m", "mf.cli", "run", "--task", "contrastive_language_image_pretrain",
               "--model_type", "clip_tiny", "--train_dataset", str(data), "--run_mode", "train", "--output_dir",
               str(tmp_path / "out"), "--max_steps", "3", "--batch_size", "4", "--save_steps", "0",
               "--plot_loss", "false"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    result = subprocess.run([sys.executable, "-m", "mf.cli", "run", "--task", "contrastive_language_image_pretrain",
                             "--model_type", str(tmp_path / "out"), "--eval_dataset", str(data), "--run_mode",
                             "eval"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert 0 <= metrics["eval_image_to_text_recall@1"] <= 1 and "eval_text_to_image_recall@5" in metrics
