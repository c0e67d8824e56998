"""AutoConfig, AutoModel (and task variants), AutoTokenizer, AutoProcessor.

Each resolves a name through the registry: a preset (`gpt2`), a directory
saved by mf, or a Hugging Face checkpoint directory; the model_type found
there picks the family that a plugin registered.
"""
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional

from .config import CONFIG_NAME, PretrainedConfig
from .errors import ConfigError, TokenizerError, UnknownNameError
from .fileio import read_json
from .plugins import get_registry
from .processing import PROCESSOR_CONFIG_NAME
from .registry import ModelFamily
from .resolve import Location, locate
from .tokenization.base import TOKENIZER_CONFIG_NAME


def _family_of(name_or_path, revision=None, token=None) -> "tuple[ModelFamily, Location]":
    location = locate(name_or_path, revision=revision, token=token)
    if location.directory is not None:
        config_path = location.directory / CONFIG_NAME
        if not config_path.is_file():
            raise ConfigError(f"{location.directory} has no {CONFIG_NAME}; a model directory needs one "
                              f"(write it with save_pretrained, or use a Hugging Face checkpoint directory)")
        data = read_json(config_path, ConfigError)
        model_type = data.get("model_type") if isinstance(data, dict) else None
        if not model_type:
            raise ConfigError(f"{config_path} has no 'model_type' field; add one (e.g. \"model_type\": \"gpt2\")")
        if not isinstance(model_type, str):
            raise ConfigError(f"{config_path}: 'model_type' must be a string such as \"gpt2\", got {model_type!r}")
        return get_registry().family(model_type), location
    return get_registry().family(location.preset.model_type), location


def _class_for(family: ModelFamily, role: Optional[str], location: Location):
    """The role's class; for AutoModel (no role) of a directory, the class its config.json's
    `architectures` names when the family has it (a saved classifier comes back as a classifier)."""
    if role is None and location.directory is not None:
        data = read_json(location.directory / CONFIG_NAME, ConfigError)
        names = data.get("architectures") if isinstance(data, dict) else None
        for model_class in family.model_classes.values():
            if names and model_class.__name__ in names:
                return model_class
    return family.model_class(role)


def show_support_list(kind: str = "model") -> Dict[str, List[str]]:
    """Installed presets by model type (printed, and returned as a dict)."""
    support = defaultdict(list)
    for name, preset in get_registry().presets.items():
        support[preset.model_type].append(name)
    support = dict(sorted(support.items()))
    print(f"mf supports these {kind} presets:")
    for model_type, names in support.items():
        print(f"  {model_type}: {', '.join(names)}")
    return support


class AutoConfig:
    """The right config class for a preset or directory."""

    @classmethod
    def from_pretrained(cls, name_or_path, revision=None, token=None, **overrides) -> PretrainedConfig:
        family, _ = _family_of(name_or_path, revision, token)
        return family.config_class.from_pretrained(name_or_path, revision=revision, token=token, **overrides)

    @classmethod
    def for_model(cls, model_type: str, **kwargs) -> PretrainedConfig:
        """A config of a registered model type with the given fields."""
        return get_registry().family(model_type).config_class(**kwargs)

    @classmethod
    def show_support_list(cls):
        return show_support_list("config")


class AutoModel:
    """The model for a preset or directory; by default the family's LM-head model, as in the tutorial."""

    role: Optional[str] = None

    @classmethod
    def from_pretrained(cls, name_or_path, **kwargs):
        family, location = _family_of(name_or_path, kwargs.get("revision"), kwargs.get("token"))
        return _class_for(family, cls.role, location).from_pretrained(name_or_path, **kwargs)

    @classmethod
    def from_config(cls, config: PretrainedConfig, **overrides):
        if not isinstance(config, PretrainedConfig):
            raise TypeError(f"from_config needs a config object (AutoConfig.from_pretrained(...)), got {config!r}")
        family = get_registry().family(config.model_type)
        return family.model_class(cls.role).from_config(config, **overrides)

    @classmethod
    def show_support_list(cls):
        return show_support_list("model")


class AutoModelForCausalLM(AutoModel):
    role = "causal_lm"


class AutoModelForBase(AutoModel):
    """The bare backbone without a task head."""
    role = "base"


class AutoTokenizer:
    """The tokenizer for a preset or directory."""

    @classmethod
    def from_pretrained(cls, name_or_path, **kwargs):
        location = locate(name_or_path, revision=kwargs.get("revision"), token=kwargs.get("token"))
        if location.directory is not None:
            tokenizer_class = _tokenizer_class_in(location.directory)
            if tokenizer_class is not None:
                return tokenizer_class.from_pretrained(name_or_path, **kwargs)
            if location.preset is None:
                raise TokenizerError(f"{location.directory} has neither {TOKENIZER_CONFIG_NAME} nor a {CONFIG_NAME} "
                                     f"with a model_type, so mf cannot tell which tokenizer it holds")
        family = get_registry().family(location.preset.model_type)
        if family.tokenizer_class is None:
            raise TokenizerError(f"model type '{family.model_type}' has no tokenizer")
        return family.tokenizer_class.from_pretrained(name_or_path, **kwargs)

    @classmethod
    def show_support_list(cls):
        return show_support_list("tokenizer")


def _tokenizer_class_in(directory: Path):
    """The tokenizer class for a directory: the one its tokenizer_config.json or config.json names,
    or the generic tokenizer.json reader when the directory ships tokenizer.json instead of that
    class's vocabulary files (as current LLaMA-architecture checkpoints do)."""
    from .tokenization.backend import TokenizerJsonTokenizer

    named = _named_tokenizer_class(directory)
    if (directory / "tokenizer.json").is_file() and (named is None or not named._directory_has_files(directory)):
        return TokenizerJsonTokenizer
    return named


def _named_tokenizer_class(directory: Path):
    registry = get_registry()
    tokenizer_config = directory / TOKENIZER_CONFIG_NAME
    if tokenizer_config.is_file():
        name = read_json(tokenizer_config, TokenizerError).get("tokenizer_class")
        if name:
            for candidate in (name, name[:-4] if name.endswith("Fast") else None):
                cls = registry.class_named(candidate) if candidate else None
                if cls is not None:
                    return cls
    config = directory / CONFIG_NAME
    if config.is_file():
        data = read_json(config, ConfigError)
        model_type = data.get("model_type") if isinstance(data, dict) else None
        if model_type and not isinstance(model_type, str):
            raise ConfigError(f"{config}: 'model_type' must be a string such as \"gpt2\", got {model_type!r}")
        if model_type:
            family = registry.family(model_type)
            if family.tokenizer_class is None:
                raise TokenizerError(f"model type '{model_type}' has no tokenizer")
            return family.tokenizer_class
    return None


class AutoImageProcessor:
    """The image processor for a preset or directory: its preprocessor_config.json (any Hugging Face image
    processor type: their settings share one format), else the preset's settings."""

    @classmethod
    def from_pretrained(cls, name_or_path, **kwargs):
        from .image_processing import IMAGE_PROCESSOR_CONFIG_NAME, ImageProcessor

        location = locate(name_or_path)
        if location.directory is None or not (location.directory / IMAGE_PROCESSOR_CONFIG_NAME).is_file():
            family = get_registry().family(location.preset.model_type) if location.preset is not None else \
                _family_of(name_or_path)[0]
            # a processor of images and text (CLIP's) names its image processor class
            processor_class = getattr(family.processor_class, "image_processor_class", family.processor_class)
            if processor_class is None or not issubclass(processor_class, ImageProcessor):
                raise UnknownNameError(f"model type '{family.model_type}' has no image processor")
            return processor_class.from_pretrained(name_or_path, **kwargs)
        return ImageProcessor.from_pretrained(name_or_path, **kwargs)


class AutoProcessor:
    """The processor for a preset or directory."""

    @classmethod
    def from_pretrained(cls, name_or_path, **kwargs):
        location = locate(name_or_path)
        saved = location.directory / PROCESSOR_CONFIG_NAME if location.directory is not None else None
        if saved is not None and saved.is_file():
            name = read_json(saved, TokenizerError).get("processor_class", "")
            processor_class = get_registry().class_named(name)
            if processor_class is None:
                raise UnknownNameError(f"{saved} names processor_class '{name}', which no installed plugin provides")
            return processor_class.from_pretrained(name_or_path, **kwargs)
        if location.preset is not None:
            family = get_registry().family(location.preset.model_type)
        else:
            family, _ = _family_of(name_or_path)
        if family.processor_class is None:
            raise UnknownNameError(f"model type '{family.model_type}' has no processor")
        return family.processor_class.from_pretrained(name_or_path, **kwargs)

    @classmethod
    def show_support_list(cls):
        return show_support_list("processor")
