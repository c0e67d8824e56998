"""PretrainedConfig: typed fields, choices, Hugging Face names, JSON round trips."""
import json
from typing import List, Optional

import pytest

from mf.config import PretrainedConfig
from mf.errors import ConfigError


class ToyConfig(PretrainedConfig):
    model_type = "toy"
    attribute_map = {"n_embd": "hidden_size"}
    choices = {"act": ("relu", "gelu")}

    hidden_size: int = 16
    dropout: float = 0.1
    act: str = "relu"
    use_bias: bool = True
    inner: Optional[int] = None
    layers_to_skip: List[int] = []

    def validate(self):
        if self.hidden_size % 4:
            raise ConfigError(f"field 'hidden_size' must be divisible by 4, got {self.hidden_size}")


def test_defaults_and_overrides():
    config = ToyConfig(hidden_size=32, dropout=0)
    assert config.hidden_size == 32
    assert config.dropout == 0.0 and isinstance(config.dropout, float)
    assert config.act == "relu" and config.inner is None


def test_mutable_defaults_are_not_shared():
    first, second = ToyConfig(), ToyConfig()
    first.layers_to_skip.append(3)
    assert second.layers_to_skip == []


@pytest.mark.parametrize("field, value, message", [
    ("hidden_size", "16", "field 'hidden_size' must be an integer, got str '16'"),
    ("hidden_size", 16.0, "field 'hidden_size' must be an integer, got float 16.0"),
    ("use_bias", 1, "field 'use_bias' must be true or false, got int 1"),
    ("dropout", "0.1", "field 'dropout' must be a number, got str '0.1'"),
    ("inner", "x", "field 'inner' must be an integer or null"),
    ("act", "swish", "field 'act' is 'swish'; allowed values: 'relu', 'gelu'"),
    ("hidden_size", 18, "must be divisible by 4"),
])
def test_bad_values_name_the_field(field, value, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ToyConfig(**{field: value})


def test_hugging_face_names_are_accepted_and_written_back():
    config = ToyConfig(n_embd=8)
    assert config.hidden_size == 8
    assert config.to_hf_dict()["n_embd"] == 8
    assert "hidden_size" not in config.to_hf_dict()
    with pytest.raises(ConfigError, match="'n_embd' and 'hidden_size' name the same setting"):
        ToyConfig(n_embd=8, hidden_size=12)


def test_json_round_trip_keeps_unknown_fields(tmp_path):
    config = ToyConfig(hidden_size=8, custom_note="kept")
    config.save_pretrained(tmp_path)
    data = json.loads((tmp_path / "config.json").read_text())
    assert data["model_type"] == "toy" and data["custom_note"] == "kept"
    again = ToyConfig.from_json_file(tmp_path / "config.json")
    assert again == config
    assert again.custom_note == "kept"


def test_wrong_type_in_a_file_names_the_file_and_field(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "toy", "hidden_size": "big"}))
    with pytest.raises(ConfigError) as err:
        ToyConfig.from_json_file(path)
    assert str(path) in str(err.value) and "'hidden_size' must be an integer" in str(err.value)


def test_invalid_json_names_file_line_and_column(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"model_type": "toy",\n "hidden_size": 16,,}')
    with pytest.raises(ConfigError, match=r"config.json is not valid JSON: .* line 2 column"):
        ToyConfig.from_json_file(path)


def test_another_model_type_is_refused(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "llama", "hidden_size": 16}))
    with pytest.raises(ConfigError, match="model_type 'llama' but ToyConfig expects 'toy'"):
        ToyConfig.from_json_file(path)


@pytest.mark.parametrize("text, message", [
    ('{"model_type": ["gpt2"]}', "'model_type' must be a string"),
    ('{"model_type": 5}', "'model_type' must be a string"),
    ('{"model_type": "gpt2", "x": ' + "[" * 100000 + "]" * 100000 + "}", "nested too deeply"),
])
def test_malformed_config_json_is_a_config_error(tmp_path, text, message):
    from mf import AutoConfig
    from mf.errors import ConfigError

    (tmp_path / "config.json").write_text(text)
    with pytest.raises(ConfigError, match=message):
        AutoConfig.from_pretrained(str(tmp_path))


def test_a_key_named_like_a_method_does_not_replace_it():
    from mf import AutoConfig

    config = AutoConfig.from_pretrained("gpt2_tiny", validate=False, to_dict="x")
    assert callable(config.validate) and config.to_dict()["validate"] is False
    assert config.to_dict()["to_dict"] == "x"
