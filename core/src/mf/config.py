"""PretrainedConfig: typed fields, validation, presets, and config.json round trips.

A family's config declares its fields as annotated class attributes:

    class GPT2Config(PretrainedConfig):
        model_type = "gpt2"
        attribute_map = {"n_embd": "hidden_size"}       # Hugging Face spelling -> mf field
        choices = {"hidden_act": ("gelu_new", "gelu", "relu")}
        hidden_size: int = 768

Values are checked against the annotation when the config is built, so a
config.json with `"hidden_size": "768"` fails with the field and file named.
"""
import copy
import typing
from pathlib import Path
from typing import Any, ClassVar, Dict, List, Optional, Tuple, Union

from .errors import ConfigError
from .fileio import read_json, write_json

CONFIG_NAME = "config.json"

# Keys that Hugging Face writes into config.json and that mean nothing to mf.
_HF_BOOKKEEPING = {"transformers_version", "architectures", "_name_or_path", "torch_dtype", "dtype",
                   "use_cache", "auto_map"}


class PretrainedConfig:
    """Base class of every model configuration."""

    model_type: ClassVar[str] = ""
    attribute_map: ClassVar[Dict[str, str]] = {}
    choices: ClassVar[Dict[str, Tuple[Any, ...]]] = {}

    bos_token_id: Optional[int] = None
    # Hugging Face allows several end-of-sequence ids
    eos_token_id: Union[int, List[int], None] = None
    pad_token_id: Optional[int] = None
    # dtype of matmuls and activations; parameters are kept in float32
    compute_dtype: str = "float32"

    def __init__(self, **kwargs):
        kwargs = self._translate_names(kwargs)
        for name, hint in self.fields().items():
            value = kwargs.pop(name) if name in kwargs else copy.deepcopy(getattr(type(self), name))
            setattr(self, name, _check_type(name, value, hint))
        for name, allowed in self.choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"field '{name}' is {getattr(self, name)!r}; allowed values: "
                                  f"{', '.join(repr(a) for a in allowed)}")
        for name in _HF_BOOKKEEPING:
            kwargs.pop(name, None)
        kwargs.pop("model_type", None)
        # Unknown fields are kept (and written back) so that nothing in a config is lost. A key that names one of
        # the class's methods or properties ("validate", "to_dict") stays in `extra` only: as an attribute it
        # would replace the method
        self.extra: Dict[str, Any] = kwargs
        for name, value in kwargs.items():
            if not hasattr(type(self), name):
                setattr(self, name, value)
        self.name_or_path = ""
        self.validate()

    @classmethod
    def fields(cls) -> Dict[str, Any]:
        """Declared fields and their type annotations, base class first."""
        hints = {}
        for klass in reversed(cls.__mro__):
            if klass is object:
                continue
            for name, hint in typing.get_type_hints(klass).items():
                if typing.get_origin(hint) is not ClassVar and not name.startswith("_"):
                    hints[name] = hint
        return hints

    @classmethod
    def _translate_names(cls, kwargs: Dict[str, Any]) -> Dict[str, Any]:
        out = dict(kwargs)
        for hf_name, name in cls.attribute_map.items():
            if hf_name in out:
                value = out.pop(hf_name)
                if name in kwargs and kwargs[name] != value:
                    raise ConfigError(f"fields '{hf_name}' and '{name}' name the same setting "
                                      f"but disagree ({value!r} vs {kwargs[name]!r}); give only one")
                out[name] = value
        return out

    def validate(self):
        """Cross-field checks; subclasses raise ConfigError naming the field."""

    # ---- dict / JSON ------------------------------------------------------------------
    def to_dict(self) -> Dict[str, Any]:
        """The config as mf writes it: model_type, then every field, then extras."""
        out = {"model_type": self.model_type}
        out.update({name: copy.deepcopy(getattr(self, name)) for name in self.fields()})
        out.update(copy.deepcopy(self.extra))
        return out

    def to_hf_dict(self) -> Dict[str, Any]:
        """The config with Hugging Face field names, for transformers to read."""
        reverse = {name: hf_name for hf_name, name in self.attribute_map.items()}
        out = {reverse.get(k, k): v for k, v in self.to_dict().items() if k != "compute_dtype"}
        return out

    @classmethod
    def from_dict(cls, data: Dict[str, Any], **overrides) -> "PretrainedConfig":
        """Build from a dict (mf or Hugging Face field names)."""
        data = dict(data)
        model_type = data.get("model_type")
        if cls.model_type and model_type and model_type != cls.model_type and model_type not in getattr(cls, "hf_model_types", ()):
            raise ConfigError(f"config has model_type '{model_type}' but {cls.__name__} expects "
                              f"'{cls.model_type}'; use AutoConfig to pick the right class")
        data.update(overrides)
        return cls(**data)

    @classmethod
    def from_json_file(cls, path, **overrides) -> "PretrainedConfig":
        """Read a config.json; errors name the file."""
        data = read_json(path, ConfigError)
        if not isinstance(data, dict):
            raise ConfigError(f"{path} must hold a JSON object, not {type(data).__name__}")
        try:
            config = cls.from_dict(data, **overrides)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        except TypeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        config.name_or_path = str(Path(path).parent)
        return config

    def save_pretrained(self, save_directory, format: str = "mf", architectures=None):
        """Write config.json into save_directory (format 'mf' or 'huggingface'); `architectures` names
        the model class saved with it, so AutoModel brings back that head."""
        data = self.to_hf_dict() if format in ("huggingface", "hf") else self.to_dict()
        if architectures:
            data["architectures"] = list(architectures)
        write_json(Path(save_directory) / CONFIG_NAME, data)

    @classmethod
    def from_pretrained(cls, name_or_path, revision=None, token=None, **overrides) -> "PretrainedConfig":
        """Load a preset by name, a directory's or a Hub repository's config.json."""
        from .resolve import locate

        location = locate(name_or_path, revision=revision, token=token)
        if location.directory is not None:
            path = location.directory / CONFIG_NAME
            if not path.is_file():
                raise ConfigError(f"{location.directory} has no {CONFIG_NAME}; a model directory needs one "
                                  f"(save it with save_pretrained or use a Hugging Face checkpoint directory)")
            config = cls.from_json_file(path, **overrides)
        else:
            config = cls.from_preset(location.preset, **overrides)
        config.name_or_path = str(name_or_path)
        return config

    @classmethod
    def from_preset(cls, preset, **overrides) -> "PretrainedConfig":
        """Build the config of a registered preset."""
        if cls.model_type and preset.model_type != cls.model_type:
            raise ConfigError(f"preset '{preset.name}' is a '{preset.model_type}' model, "
                              f"not '{cls.model_type}'; use AutoConfig.from_pretrained('{preset.name}')")
        return cls(**{**preset.config, **overrides})

    def __eq__(self, other):
        return type(self) is type(other) and self.to_dict() == other.to_dict()

    def __repr__(self):
        body = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "model_type")
        return f"{type(self).__name__}({body})"


def _check_type(name: str, value: Any, hint: Any) -> Any:
    """Return value (ints widened to float where a float is wanted) or raise ConfigError."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union:
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check_type(name, value, arg)
            except ConfigError as exc:
                errors.append(exc)
        raise ConfigError(f"field '{name}' must be {_type_name(hint)}, got {type(value).__name__} {value!r}")
    if hint is Any:
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"field '{name}' must be a list, got {type(value).__name__} {value!r}")
        inner = args[0] if args else Any
        return [_check_type(name, v, inner) for v in value]
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"field '{name}' must be an object, got {type(value).__name__} {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"field '{name}' must be a number, got {type(value).__name__} {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"field '{name}' must be an integer, got {type(value).__name__} {value!r}")
        return value
    if isinstance(hint, type) and not isinstance(value, hint):
        raise ConfigError(f"field '{name}' must be {_type_name(hint)}, got {type(value).__name__} {value!r}")
    return value


def _type_name(hint) -> str:
    if typing.get_origin(hint) is typing.Union:
        return " or ".join(_type_name(a) for a in typing.get_args(hint))
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false",
            type(None): "null"}.get(hint, getattr(hint, "__name__", str(hint)))
