"""ViT, DINOv2 and Swin against transformers (golden outputs of tiny random checkpoints, see
fixtures/make_fixtures.py), checkpoints in and out, and the real DINOv2 ViT-S/14 when it is fetched."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
from mindspore import Tensor

from mf import AutoModel
from mf.errors import ConfigError
from mf.testing import isolate_caches
from mf_vision import (Dinov2ForImageClassification, Dinov2Model, SwinConfig, SwinForImageClassification, SwinModel,
                       ViTForImageClassification, ViTModel)

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = np.load(FIXTURES / "golden.npz")
CLASSES = {"tiny-vit": (ViTForImageClassification, ViTModel), "tiny-dinov2": (Dinov2ForImageClassification, Dinov2Model),
           "tiny-swin": (SwinForImageClassification, SwinModel)}
CASES = sorted({tuple(key.split("/")[:2]) for key in GOLDEN.files})
ATOL = 1e-4


@pytest.fixture(autouse=True)
def _caches(tmp_path_factory, monkeypatch):
    isolate_caches(tmp_path_factory, monkeypatch)


@pytest.mark.parametrize("name, case", CASES)
def test_logits_and_hidden_states_match_transformers(name, case):
    classifier_class, base_class = CLASSES[name]
    pixels = Tensor(GOLDEN[f"{name}/{case}/pixel_values"])
    classifier = classifier_class.from_pretrained(str(FIXTURES / name))
    classifier.set_train(False)
    np.testing.assert_allclose(classifier(pixels).asnumpy(), GOLDEN[f"{name}/{case}/logits"], atol=ATOL, rtol=0)
    base = base_class.from_pretrained(str(FIXTURES / name))
    base.set_train(False)
    out = base(pixels)
    hidden = out[0] if isinstance(out, tuple) else out
    np.testing.assert_allclose(hidden.asnumpy(), GOLDEN[f"{name}/{case}/last_hidden_state"], atol=ATOL, rtol=0)
    pooled = GOLDEN[f"{name}/{case}/pooler_output"]
    if pooled.size and isinstance(out, tuple):
        np.testing.assert_allclose(out[1].asnumpy(), pooled, atol=ATOL, rtol=0)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_auto_classes_read_the_checkpoint_and_its_labels(name):
    model = AutoModel.from_pretrained(str(FIXTURES / name))
    assert isinstance(model, CLASSES[name][0])
    assert model.config.labels() == ["cat", "dog", "boat", "plane", "horse"]


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_export_writes_what_transformers_wrote(name, tmp_path):
    from safetensors.numpy import load_file

    model = AutoModel.from_pretrained(str(FIXTURES / name))
    model.save_pretrained(tmp_path, format="huggingface")
    original, written = load_file(FIXTURES / name / "model.safetensors"), load_file(tmp_path / "model.safetensors")
    assert sorted(written) == sorted(original)
    for key, value in original.items():
        np.testing.assert_array_equal(written[key], value, err_msg=key)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == json.loads((FIXTURES / name / "config.json").read_text())["model_type"]


def test_swin_checkpoints_with_the_relative_position_index_buffer_load(tmp_path):
    """Older Swin checkpoints store relative_position_index; it is recomputed, so it is dropped on load."""
    from safetensors.numpy import load_file, save_file

    from mf_vision.modeling_swin import relative_position_index

    state = load_file(FIXTURES / "tiny-swin" / "model.safetensors")
    for key in [k for k in state if k.endswith("relative_position_bias_table")]:
        state[key.replace("relative_position_bias_table", "relative_position_index")] = \
            relative_position_index(4).astype(np.int64)
    (tmp_path / "config.json").write_text((FIXTURES / "tiny-swin" / "config.json").read_text())
    save_file(state, tmp_path / "model.safetensors")
    model = SwinForImageClassification.from_pretrained(str(tmp_path))
    model.set_train(False)
    pixels = Tensor(GOLDEN["tiny-swin/trained_size/pixel_values"])
    np.testing.assert_allclose(model(pixels).asnumpy(), GOLDEN["tiny-swin/trained_size/logits"], atol=ATOL)


def test_swin_relative_position_index_is_the_published_one():
    from mf_vision.modeling_swin import relative_position_index

    index = relative_position_index(2)  # 2x2 window: offsets (dy, dx) in [-1, 1], table row (dy+1)*3 + (dx+1)
    assert index.tolist() == [[4, 3, 1, 0], [5, 4, 2, 1], [7, 6, 4, 3], [8, 7, 5, 4]]


def test_a_swin_window_larger_than_the_patch_grid_is_a_clear_error():
    config = SwinConfig(image_size=16, patch_size=4, embed_dim=8, depths=[1], num_heads=[2], window_size=7)
    model = SwinModel(config)
    with pytest.raises(Exception, match="window"):
        model(Tensor(np.zeros((1, 3, 16, 16), np.float32)))
    with pytest.raises(ConfigError, match="depths"):
        SwinConfig(depths=[2, 2], num_heads=[2])


DINOV2 = Path(os.environ.get("MF_TESTDATA", "~/.cache/mf-testdata")).expanduser() / "dinov2s"
IMAGES = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "images"


@pytest.mark.skipif(not (DINOV2 / "model.safetensors").is_file(),
                    reason=f"the real DINOv2 ViT-S/14 is not at {DINOV2}: run ../shared/data/scripts/fetch-datasets.sh "
                           f"dinov2s (or set MF_TESTDATA)")
def test_real_dinov2_small_features_match_the_reference():
    """The reference values written in ../shared/data/README.md (transformers on CPU, fp32)."""
    from PIL import Image

    from mf import AutoImageProcessor

    model = AutoModel.from_pretrained(str(DINOV2))
    assert isinstance(model, Dinov2Model)
    model.set_train(False)
    cls = model(Tensor(np.zeros((1, 3, 224, 224), np.float32)))[1].asnumpy()[0]
    assert abs(np.linalg.norm(cls) - 50.7536) < 1e-3
    np.testing.assert_allclose(cls[:5], [0.8090, 0.5001, 1.8157, -4.6478, -1.0589], atol=1e-3)
    if not IMAGES.is_dir():
        return
    image = Image.open(IMAGES / "chelsea.png").convert("RGB").resize((224, 224), Image.BICUBIC)
    pixels = (np.asarray(image, np.float32) / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    cls = model(Tensor(pixels.transpose(2, 0, 1)[None].astype(np.float32)))[1].asnumpy()[0]
    assert abs(np.linalg.norm(cls) - 48.609) < 1e-2
    np.testing.assert_allclose(cls[:5], [-0.6772, -0.9932, 1.1285, -1.8523, 0.4386], atol=1e-2)
    # through the folder's own preprocessor_config.json (shortest edge 256, centre crop 224)
    processed = AutoImageProcessor.from_pretrained(str(DINOV2))(str(IMAGES / "chelsea.png"))["pixel_values"]
    cls = model(processed)[1].asnumpy()[0]
    assert abs(np.linalg.norm(cls) - 46.539) < 1e-2
    np.testing.assert_allclose(cls[:5], [0.8472, 0.1366, -0.0619, -2.3026, 2.0235], atol=1e-2)
