"""CLIP and ViTMAE against transformers (golden outputs of tiny random checkpoints and of CLIPTokenizer, see
fixtures/make_clip_mae_fixtures.py), checkpoints in and out, the processor, masking."""
import json
from pathlib import Path

import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor

from mf import AutoModel, AutoProcessor, AutoTokenizer
from mf.errors import ConfigError, TokenizerError
from mf.testing import isolate_caches
from mf_vision import CLIPModel, CLIPProcessor, CLIPTokenizer, ViTMAEConfig, ViTMAEForPreTraining, ViTMAEModel
from mf_vision.modeling_mae import sincos_position_table

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = np.load(FIXTURES / "golden_clip_mae.npz")
TOKENS = json.loads((FIXTURES / "clip_tokenizer.json").read_text(encoding="utf-8"))
ATOL = 1e-4


@pytest.fixture(autouse=True)
def _caches(tmp_path_factory, monkeypatch):
    isolate_caches(tmp_path_factory, monkeypatch)


def clip_inputs():
    return (Tensor(GOLDEN["clip/input_ids"].astype(np.int32)), Tensor(GOLDEN["clip/pixel_values"]),
            Tensor(GOLDEN["clip/attention_mask"].astype(np.int32)))


@pytest.mark.parametrize("name, folder", [("clip", "tiny-clip"), ("clip_legacy", "tiny-clip-legacy")])
def test_clip_matches_transformers(name, folder):
    """Logits, both towers' states, the projected features and the loss; `clip` pools captions at their first
    end-of-text token (one caption has none and pools at 0), `clip_legacy` (eos_token_id 2) at the largest id."""
    model = AutoModel.from_pretrained(str(FIXTURES / folder))
    assert isinstance(model, CLIPModel)
    model.set_train(False)
    ids, pixels, mask = clip_inputs()
    logits_per_image, logits_per_text = model(ids, pixels, mask)
    np.testing.assert_allclose(logits_per_image.asnumpy(), GOLDEN[f"{name}/logits_per_image"], atol=ATOL, rtol=0)
    np.testing.assert_allclose(logits_per_text.asnumpy(), GOLDEN[f"{name}/logits_per_text"], atol=ATOL, rtol=0)
    np.testing.assert_allclose(model.get_text_features(ids, mask).asnumpy(), GOLDEN[f"{name}/text_features"],
                               atol=ATOL, rtol=0)
    np.testing.assert_allclose(model.get_image_features(pixels).asnumpy(), GOLDEN[f"{name}/image_features"],
                               atol=ATOL, rtol=0)
    np.testing.assert_allclose(model.text_model(ids, mask)[0].asnumpy(), GOLDEN[f"{name}/text_last_hidden_state"],
                               atol=ATOL, rtol=0)
    np.testing.assert_allclose(model.vision_model(pixels)[0].asnumpy(),
                               GOLDEN[f"{name}/vision_last_hidden_state"], atol=ATOL, rtol=0)
    loss, _, _ = model(ids[:2], pixels, mask[:2], True)
    assert abs(float(loss.asnumpy()) - float(GOLDEN[f"{name}/square_loss"])) < ATOL


def test_the_two_pooling_rules_differ_on_these_inputs():
    """Otherwise the legacy test above would not tell them apart."""
    assert np.abs(GOLDEN["clip/logits_per_image"] - GOLDEN["clip_legacy/logits_per_image"]).max() > 0.1


@pytest.mark.parametrize("case", TOKENS["cases"], ids=lambda case: repr(case["text"])[:30])
def test_clip_token_ids_and_decoding_match_transformers(case):
    tokenizer = CLIPTokenizer()
    ids = tokenizer(case["text"])["input_ids"]
    assert ids == case["ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == case["decoded"]


def test_the_issues_example_and_padding_to_the_context():
    tokenizer = AutoTokenizer.from_pretrained("clip_vit_b_32")
    assert tokenizer("a photo of a cat")["input_ids"] == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert tokenizer.vocab_size == 49408 and tokenizer.model_max_length == 77
    batch = tokenizer(["a photo of a cat", "an emoji of taco on a plate"], padding="max_length", max_length=12,
                      truncation=True)
    assert dict(batch) == TOKENS["batch"]
    long = tokenizer("word " * 200, truncation=True, max_length=77)["input_ids"]
    assert len(long) == 77 and long[0] == 49406 and long[-1] == 49407


def test_the_tokenizer_saves_the_files_transformers_reads_and_loads_them(tmp_path):
    tokenizer = CLIPTokenizer()
    tokenizer.save_pretrained(tmp_path)
    vocab = json.loads((tmp_path / "vocab.json").read_text(encoding="utf-8"))
    merges = (tmp_path / "merges.txt").read_text(encoding="utf-8").splitlines()
    assert len(vocab) == 49408 and vocab["<|endoftext|>"] == 49407 and vocab["cat</w>"] == 2368
    assert merges[0].startswith("#version") and len(merges) == 1 + 48894
    again = AutoTokenizer.from_pretrained(str(tmp_path))
    assert isinstance(again, CLIPTokenizer)
    for case in TOKENS["cases"]:
        assert again(case["text"])["input_ids"] == case["ids"]


def test_bad_tokenizer_files_are_named(tmp_path):
    (tmp_path / "broken.txt.gz").write_bytes(b"not gzip")
    with pytest.raises(TokenizerError, match="broken.txt.gz"):
        CLIPTokenizer(bpe_file=str(tmp_path / "broken.txt.gz"))
    with pytest.raises(TokenizerError, match="both vocab_file and merges_file"):
        CLIPTokenizer(vocab_file=str(tmp_path / "vocab.json"))
    with pytest.raises(TokenizerError, match="does not exist"):
        CLIPTokenizer(vocab_file=str(tmp_path / "vocab.json"), merges_file=str(tmp_path / "merges.txt"))


def test_the_processor_speaks_transformers_and_mindformers(tmp_path):
    processor = AutoProcessor.from_pretrained("clip_tiny")
    assert isinstance(processor, CLIPProcessor)
    image = np.full((40, 50, 3), 200, np.uint8)
    out = processor(text=["a cat", "a photo of a dog"], images=[image, image], return_tensors="np")
    assert sorted(out) == ["attention_mask", "input_ids", "pixel_values"]
    assert np.asarray(out["input_ids"]).shape == (2, 7)  # padded to the longest caption
    assert out["pixel_values"].shape == (2, 3, 32, 32)
    legacy = processor(text_input="a cat", image_input=image)
    assert tuple(legacy["text"].shape) == (1, 77) and tuple(legacy["image"].shape) == (1, 3, 32, 32)
    processor.save_pretrained(tmp_path)
    again = AutoProcessor.from_pretrained(str(tmp_path))
    assert isinstance(again, CLIPProcessor)
    np.testing.assert_array_equal(again(text="a cat", return_tensors="np")["input_ids"],
                                  processor(text="a cat", return_tensors="np")["input_ids"])


def test_clip_export_writes_what_transformers_wrote(tmp_path):
    from safetensors.numpy import load_file

    model = AutoModel.from_pretrained(str(FIXTURES / "tiny-clip"))
    model.save_pretrained(tmp_path, format="huggingface")
    original, written = load_file(FIXTURES / "tiny-clip" / "model.safetensors"), load_file(tmp_path / "model.safetensors")
    assert sorted(written) == sorted(original)
    for key, value in original.items():
        np.testing.assert_array_equal(written[key], value, err_msg=key)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "clip" and config["text_config"]["eos_token_id"] == 997


def mae(norm_pix_loss=True):
    model = AutoModel.from_pretrained(str(FIXTURES / "tiny-mae"), norm_pix_loss=norm_pix_loss)
    assert isinstance(model, ViTMAEForPreTraining)
    model.set_train(False)
    return model


@pytest.mark.parametrize("norm_pix_loss", [True, False])
def test_mae_matches_transformers_given_the_same_noise(norm_pix_loss):
    model = mae(norm_pix_loss)
    pixels, noise = Tensor(GOLDEN["mae/pixel_values"]), Tensor(GOLDEN["mae/noise"])
    loss, logits, mask = model(pixels, noise)
    expected = GOLDEN["mae/loss" if norm_pix_loss else "mae/loss_plain_pixels"]
    assert abs(float(loss.asnumpy()) - float(expected)) < ATOL
    np.testing.assert_allclose(logits.asnumpy(), GOLDEN["mae/logits"], atol=ATOL, rtol=0)
    np.testing.assert_array_equal(mask.asnumpy(), GOLDEN["mae/mask"])
    encoder = ViTMAEModel.from_pretrained(str(FIXTURES / "tiny-mae"))
    encoder.set_train(False)
    states, encoder_mask, ids_restore = encoder(pixels, noise)
    np.testing.assert_allclose(states.asnumpy(), GOLDEN["mae/last_hidden_state"], atol=ATOL, rtol=0)
    np.testing.assert_array_equal(ids_restore.asnumpy(), GOLDEN["mae/ids_restore"])
    assert int(encoder_mask.asnumpy().sum()) == 2 * 12  # 75% of 16 patches hidden in each image


def test_mae_position_tables_are_the_references_fixed_sin_cos():
    np.testing.assert_allclose(sincos_position_table(32, 4), GOLDEN["mae/fresh_position_embeddings"], atol=1e-6)
    np.testing.assert_allclose(sincos_position_table(16, 4), GOLDEN["mae/fresh_decoder_pos_embed"], atol=1e-6)
    model = ViTMAEForPreTraining(ViTMAEConfig.from_json_file(FIXTURES / "tiny-mae" / "config.json"))
    trainable = {p.name for p in model.trainable_params()}
    assert "vit.embeddings.position_embeddings" not in trainable and "decoder.decoder_pos_embed" not in trainable


def test_mae_masks_come_from_the_seed_or_the_noise():
    pixels = Tensor(GOLDEN["mae/pixel_values"])
    runs = []
    for _ in range(2):
        ms.set_seed(3)  # models built after the same seed draw the same sequence of masks
        model = mae()
        runs.append([model(pixels)[2].asnumpy() for _ in range(2)])
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert (runs[0][0] != runs[0][1]).any() and (runs[0][0].sum(1) == 12).all()
    flipped = model(pixels, Tensor(1.0 - GOLDEN["mae/noise"]))[2].asnumpy()
    kept_then = GOLDEN["mae/mask"] == 0
    assert not (flipped[kept_then] == 0).any()  # reversed noise: the shown patches were hidden before


def test_mae_checkpoints_of_either_decoder_layout_load_and_export_the_hubs(tmp_path):
    """transformers 5 writes decoder.decoder_encoder.layer.N (the fixture), the Hub's checkpoints say
    decoder.decoder_layers.N; both load, and the Hub's names are written (transformers 5 reads them)."""
    from safetensors.numpy import load_file

    model = mae()
    model.save_pretrained(tmp_path, format="huggingface")
    original, written = load_file(FIXTURES / "tiny-mae" / "model.safetensors"), load_file(tmp_path / "model.safetensors")
    renamed = {k.replace("decoder.decoder_encoder.layer.", "decoder.decoder_layers."): v for k, v in original.items()}
    assert sorted(written) == sorted(renamed)
    for key, value in renamed.items():
        np.testing.assert_array_equal(written[key], value, err_msg=key)
    again = AutoModel.from_pretrained(str(tmp_path))
    again.set_train(False)
    pixels, noise = Tensor(GOLDEN["mae/pixel_values"]), Tensor(GOLDEN["mae/noise"])
    np.testing.assert_array_equal(again(pixels, noise)[1].asnumpy(), model(pixels, noise)[1].asnumpy())


def test_bad_mae_and_clip_configs_are_named():
    with pytest.raises(ConfigError, match="mask_ratio"):
        ViTMAEConfig(mask_ratio=1.0)
    with pytest.raises(ConfigError, match="decoder_hidden_size"):
        ViTMAEConfig(decoder_hidden_size=30, decoder_num_attention_heads=4)
    from mf_vision import CLIPConfig

    with pytest.raises(ConfigError, match="vision_config.*patch_size"):
        CLIPConfig(vision_config={"image_size": 30, "patch_size": 8})
    with pytest.raises(ConfigError, match="text_config"):
        CLIPConfig(text_config={"hidden_size": 30, "num_attention_heads": 4})
