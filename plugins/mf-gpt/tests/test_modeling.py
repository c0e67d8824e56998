"""GPT-2 numerics against transformers, and loading Hugging Face checkpoints."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import mindspore as ms
from safetensors.numpy import load_file, save_file

from mf import AutoConfig, AutoModel, GPT2Config, GPT2LMHeadModel, GPT2Model
from mf.errors import ConfigError, WeightsError

FIXTURES = Path(__file__).parent / "fixtures"
HF_DIR = FIXTURES / "tiny-gpt2"
GOLDEN = np.load(FIXTURES / "tiny_gpt2_golden.npz")


def _logits(model, ids):
    model.set_train(False)
    return model(ms.Tensor(ids.astype(np.int32))).asnumpy()


def test_logits_match_transformers():
    model = AutoModel.from_pretrained(str(HF_DIR))
    assert isinstance(model, GPT2LMHeadModel)
    np.testing.assert_allclose(_logits(model, GOLDEN["input_ids"]), GOLDEN["logits"], atol=1e-4, rtol=0)


def test_loss_matches_transformers():
    model = GPT2LMHeadModel.from_pretrained(str(HF_DIR))
    model.set_train(False)
    ids = ms.Tensor(GOLDEN["input_ids"].astype(np.int32))
    loss, _ = model(ids, labels=ids)
    assert abs(float(loss) - float(GOLDEN["loss"])) < 1e-4


def test_checkpoint_without_transformer_prefix_loads(tmp_path):
    """The published gpt2 checkpoints have no `transformer.` prefix and no lm_head."""
    state = load_file(str(HF_DIR / "model.safetensors"))
    stripped = {k[len("transformer."):] if k.startswith("transformer.") else k: v for k, v in state.items()}
    stripped.pop("lm_head.weight", None)
    stripped["h.0.attn.bias"] = np.tril(np.ones((1, 1, 128, 128), np.float32))  # old checkpoints carry this buffer
    save_file(stripped, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    shutil.copy(HF_DIR / "config.json", tmp_path / "config.json")
    model = AutoModel.from_pretrained(str(tmp_path))
    np.testing.assert_allclose(_logits(model, GOLDEN["input_ids"]), GOLDEN["logits"], atol=1e-4, rtol=0)


def test_base_model_loads_from_a_head_checkpoint():
    backbone = GPT2Model.from_pretrained(str(HF_DIR))
    full = GPT2LMHeadModel.from_pretrained(str(HF_DIR))
    backbone.set_train(False)
    full.set_train(False)
    ids = ms.Tensor(GOLDEN["input_ids"].astype(np.int32))
    hidden = backbone(ids).asnumpy()
    wte = full.transformer.wte.weight.asnumpy()
    np.testing.assert_allclose(hidden @ wte.T, GOLDEN["logits"], atol=1e-4, rtol=0)


@pytest.mark.parametrize("fmt", ["mf", "huggingface"])
def test_save_and_reload_give_identical_logits(tmp_path, fmt):
    model = AutoModel.from_pretrained(str(HF_DIR))
    model.save_pretrained(tmp_path, format=fmt)
    again = AutoModel.from_pretrained(str(tmp_path))
    np.testing.assert_array_equal(_logits(again, GOLDEN["input_ids"]), _logits(model, GOLDEN["input_ids"]))


def test_huggingface_export_has_transformers_names_and_layout(tmp_path):
    AutoModel.from_pretrained(str(HF_DIR)).save_pretrained(tmp_path, format="huggingface")
    exported = load_file(str(tmp_path / "model.safetensors"))
    original = load_file(str(HF_DIR / "model.safetensors"))
    assert exported.keys() == original.keys() - {"lm_head.weight"}
    for name in exported:
        np.testing.assert_array_equal(exported[name], original[name])
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["n_embd"] == 64 and config["n_layer"] == 2 and config["architectures"] == ["GPT2LMHeadModel"]


def test_tutorial_config_and_model_examples():
    config = AutoConfig.from_pretrained("gpt2")
    assert isinstance(config, GPT2Config) and (config.hidden_size, config.num_layers) == (768, 12)
    config_13b = GPT2Config.from_pretrained("gpt2_13b")
    assert (config_13b.hidden_size, config_13b.num_layers, config_13b.num_heads) == (5120, 40, 40)
    small = GPT2LMHeadModel(GPT2Config(hidden_size=64, num_layers=2, num_heads=4, vocab_size=100, seq_length=32))
    assert small.num_parameters() == 100 * 64 + 32 * 64 + 2 * (4 * 64 + 64 * 192 + 192 + 64 * 64 + 64
                                                               + 64 * 256 + 256 + 256 * 64 + 64) + 2 * 64


def test_gpt2_small_has_124m_parameters():
    model = AutoModel.from_config(AutoConfig.from_pretrained("gpt2"))
    assert model.num_parameters() == 124_439_808


def test_preset_without_weights_says_where_mf_looked_and_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("MF_HOME", str(tmp_path))
    with pytest.raises(WeightsError) as err:
        AutoModel.from_pretrained("gpt2_13b")  # no public weights (gpt2's come from the Hub: tests/test_hub.py)
    message = str(err.value)
    assert str(tmp_path / "gpt2_13b") in message and "mf convert" in message and "from_config" in message


def test_preset_weights_are_found_in_mf_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MF_HOME", str(tmp_path))
    AutoModel.from_pretrained(str(HF_DIR)).save_pretrained(tmp_path / "gpt2_tiny")
    model = AutoModel.from_pretrained("gpt2_tiny")
    np.testing.assert_allclose(_logits(model, GOLDEN["input_ids"]), GOLDEN["logits"], atol=1e-4, rtol=0)


def test_wrong_field_type_in_config_json_names_file_and_field(tmp_path):
    shutil.copytree(HF_DIR, tmp_path / "ckpt")
    config_path = tmp_path / "ckpt" / "config.json"
    data = json.loads(config_path.read_text())
    data["n_layer"] = "2"
    config_path.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as err:
        AutoModel.from_pretrained(str(tmp_path / "ckpt"))
    assert str(config_path) in str(err.value) and "'num_layers' must be an integer, got str '2'" in str(err.value)


def test_misshaped_tensor_in_a_hugging_face_checkpoint(tmp_path):
    shutil.copytree(HF_DIR, tmp_path / "ckpt")
    state = load_file(str(HF_DIR / "model.safetensors"))
    state["transformer.wpe.weight"] = state["transformer.wpe.weight"][:64]
    save_file(state, str(tmp_path / "ckpt" / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(WeightsError, match=r"transformer.wpe.weight has shape \[64, 64\], the model needs \[128, 64\]"):
        AutoModel.from_pretrained(str(tmp_path / "ckpt"))


def test_missing_tensor_in_a_hugging_face_checkpoint(tmp_path):
    shutil.copytree(HF_DIR, tmp_path / "ckpt")
    state = load_file(str(HF_DIR / "model.safetensors"))
    del state["transformer.h.1.mlp.c_fc.weight"]
    save_file(state, str(tmp_path / "ckpt" / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(WeightsError, match=r"missing tensors: transformer.h.1.mlp.c_fc.weight"):
        AutoModel.from_pretrained(str(tmp_path / "ckpt"))


def test_truncated_hugging_face_checkpoint(tmp_path):
    shutil.copytree(HF_DIR, tmp_path / "ckpt")
    path = tmp_path / "ckpt" / "model.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(WeightsError, match=f"{path}.*truncated or corrupted"):
        AutoModel.from_pretrained(str(tmp_path / "ckpt"))


def test_sharded_hugging_face_checkpoint_with_index(tmp_path):
    state = load_file(str(HF_DIR / "model.safetensors"))
    names = sorted(state)
    half = len(names) // 2
    weight_map = {}
    for i, part in enumerate([names[:half], names[half:]], start=1):
        file = f"model-{i:05d}-of-00002.safetensors"
        save_file({n: state[n] for n in part}, str(tmp_path / file), metadata={"format": "pt"})
        weight_map.update({n: file for n in part})
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    shutil.copy(HF_DIR / "config.json", tmp_path / "config.json")
    model = AutoModel.from_pretrained(str(tmp_path))
    np.testing.assert_allclose(_logits(model, GOLDEN["input_ids"]), GOLDEN["logits"], atol=1e-4, rtol=0)


@pytest.mark.parametrize("fields", [{"num_layers": 10 ** 9}, {"seq_length": 10 ** 6}])
def test_a_model_too_large_for_the_machine_is_refused_before_it_is_built(fields):
    with pytest.raises(ConfigError, match="GiB .* more than this machine's"):
        GPT2LMHeadModel(GPT2Config(hidden_size=64, num_heads=4, **fields))
