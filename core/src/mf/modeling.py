"""PreTrainedModel: a MindSpore Cell that saves and loads itself in the Hugging Face layout."""
import contextlib
import os
import re
import threading
import time
import warnings
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import mindspore as ms
from mindspore import nn

from . import quantization
from .config import CONFIG_NAME, PretrainedConfig
from .errors import ConfigError, WeightsError
from .resolve import hub_weights, locate
from .weights import check_float_weights, MF_FORMAT, WEIGHTS_NAME, describe_mismatch, load_state_dict, save_state_dict


_skipping = threading.local()


@contextlib.contextmanager
def initial_values_skipped():
    """Build parameters without drawing their initial values (MindSpore's random draws take seconds for a
    100M-parameter model, minutes for 7B), for a model whose every value is loaded next. The parameters hold
    whatever memory they were given until then. Only this thread's builds are affected."""
    from mindspore.common import initializer

    if not getattr(initializer.Initializer.__call__, "_mf_skippable", False):
        draw = initializer.Initializer.__call__

        def call(self, array):
            if getattr(_skipping, "active", False):
                return None
            return draw(self, array)

        call._mf_skippable = True
        initializer.Initializer.__call__ = call
    previous = getattr(_skipping, "active", False)
    _skipping.active = True
    try:
        yield
    finally:
        _skipping.active = previous


class PreTrainedModel(nn.Cell):
    """Base class of every mf model.

    Subclasses set `config_class` and `base_model_prefix` (the attribute that holds
    the backbone in task models, e.g. "transformer"), and build their layers in
    __init__(config).
    """

    config_class = PretrainedConfig
    base_model_prefix = ""
    # regular expressions of checkpoint tensors this class does not use (a pre-training head, a pooler
    # that a task model leaves out); they are dropped on load instead of being an error
    ignore_on_load = ()
    # regular expressions of this class's own parameters that a checkpoint of the bare encoder lacks (a new
    # task head): when missing they keep their fresh initialisation, with a warning, as in transformers
    new_on_load = ()

    def __init__(self, config: PretrainedConfig):
        super().__init__()
        if not isinstance(config, PretrainedConfig):
            raise TypeError(f"{type(self).__name__} needs a {self.config_class.__name__}, got {type(config).__name__}")
        _check_fits_in_memory(type(self).__name__, config)
        self.config = config

    # ---- construction ----------------------------------------------------------------
    @classmethod
    def from_config(cls, config: PretrainedConfig, **overrides) -> "PreTrainedModel":
        """A randomly initialised model of this configuration."""
        if overrides:
            config = type(config).from_dict({**config.to_dict(), **overrides})
        return cls(config)

    @classmethod
    def from_pretrained(cls, name_or_path, config: Optional[PretrainedConfig] = None, revision: Optional[str] = None,
                        token=None, **config_overrides) -> "PreTrainedModel":
        """Load a directory (mf or Hugging Face layout), a Hub id (owner/name), or a preset's weights
        (from $MF_HOME, else from the Hub repository the preset names)."""
        location = locate(name_or_path, revision=revision, weights=True, token=token)
        directory = location.directory
        if directory is None:
            directory = hub_weights(location.preset, revision, token)
        if config is None:
            config_path = directory / CONFIG_NAME
            if not config_path.is_file():
                raise WeightsError(f"{directory} has no {CONFIG_NAME}; a model directory needs one "
                                   f"(save it with save_pretrained or use a Hugging Face checkpoint directory)")
            config = cls.config_class.from_json_file(config_path, **config_overrides)
        config.name_or_path = str(name_or_path)
        state_dict, fmt = load_state_dict(directory)
        with initial_values_skipped():  # the checkpoint replaces every value (3 s of SmolLM2's 5 s load)
            model = cls(config)
        stored = config.extra.pop(quantization.CONFIG_KEY, {})
        stored_dtype = stored.get("weight_dtype", "float32")
        if stored_dtype != "float32":  # a quantised checkpoint: int8 parameters for it to load into
            quantization.quantize(model, stored_dtype, compute=False,
                                  activations=stored.get("activation_dtype", "float32"))
        model._load_weights(state_dict, fmt, str(directory), initialised=False)
        return model

    def quantize(self, weight_dtype: str = "int8", activation_dtype: str = None) -> "PreTrainedModel":
        """int8 quantisation in place, for inference (mf.quantization): weight-only, or dynamic int8 with
        activation_dtype="int8" (inputs quantised per token as each product runs)."""
        return quantization.quantize(self, weight_dtype, activations=activation_dtype)

    # ---- weights -----------------------------------------------------------------------
    def state_dict(self) -> Dict[str, np.ndarray]:
        """Parameter name -> numpy array (mf names and layouts)."""
        return {name: param.asnumpy() for name, param in self.parameters_and_names()}

    def load_weights(self, state_dict: Dict[str, np.ndarray], fmt: str = MF_FORMAT, where: str = "the state dict"):
        """Load tensors into the parameters; a Hugging Face state dict is converted first.

        Nothing is assigned unless every tensor fits, so a bad file never leaves
        the model half loaded.
        """
        self._load_weights(state_dict, fmt, where, initialised=True)

    def _load_weights(self, state_dict, fmt, where, initialised: bool):
        """load_weights; initialised=False: the model was built under initial_values_skipped(), so a parameter
        the checkpoint lacks (a new head) gets the values a normal build would have drawn."""
        if fmt != MF_FORMAT:
            state_dict = self.converter().hf_to_mf(dict(state_dict), self.config)
        state_dict = self._match_prefix(state_dict)
        if self.ignore_on_load:
            state_dict = {n: v for n, v in state_dict.items() if not any(re.search(p, n) for p in self.ignore_on_load)}
        params = dict(self.parameters_and_names())
        fresh = [n for n in params if n not in state_dict and any(re.search(p, n) for p in self.new_on_load)]
        if fresh and len(fresh) < len(params):
            warnings.warn(f"{type(self).__name__}: {where} has no {', '.join(fresh)}; they keep their random "
                          f"initialisation: train this head before using its outputs", stacklevel=3)
            if initialised:
                state_dict = {**state_dict, **{n: params[n].asnumpy() for n in fresh}}
            else:  # drawn now, by a normal build of the same model (the same values a build would have had)
                built = dict(type(self)(self.config).parameters_and_names())
                state_dict = {**state_dict, **{n: built[n].asnumpy() for n in fresh}}
        message = describe_mismatch({n: p.shape for n, p in params.items()}, state_dict, where)
        if message:
            raise WeightsError(message)
        for name, param in params.items():
            if param.dtype in (ms.float32, ms.float16, ms.bfloat16):
                check_float_weights(name, np.asarray(state_dict[name]), where)
        for name, param in params.items():
            param.set_data(ms.Tensor(np.asarray(state_dict[name], dtype=np.float32)).astype(param.dtype))

    def _match_prefix(self, state_dict):
        """Accept a task model's weights in the backbone and the other way round."""
        prefix = self.base_model_prefix
        if not prefix:
            return state_dict
        own = {name for name, _ in self.parameters_and_names()}
        has_prefix = any(n.startswith(prefix + ".") for n in own)
        given_prefix = any(n.startswith(prefix + ".") for n in state_dict)
        if has_prefix and not given_prefix:
            return {(f"{prefix}.{n}" if f"{prefix}.{n}" in own else n): v for n, v in state_dict.items()}
        if given_prefix and not has_prefix:
            return {n[len(prefix) + 1:]: v for n, v in state_dict.items() if n.startswith(prefix + ".")}
        return state_dict

    def converter(self):
        """The family's Hugging Face name converter (registered by its plugin)."""
        from .plugins import get_registry

        converter = get_registry().family(self.config.model_type).converter
        if converter is None:
            raise WeightsError(f"model type '{self.config.model_type}' has no Hugging Face converter; "
                               f"only weights saved by mf can be loaded")
        return converter

    def save_pretrained(self, save_directory, format: str = "mf", max_shard_size: Optional[int] = None):
        """Write config.json and model.safetensors (format 'mf' or 'huggingface')."""
        if format not in ("mf", "huggingface", "hf"):
            raise ValueError(f"format must be 'mf' or 'huggingface', got {format!r}")
        if format != "mf" and quantization.weight_dtype(self) != "float32":
            raise WeightsError("int8-quantised weights are mf's own layout: save them with format='mf', or save "
                               "the float32 model for transformers")
        directory = Path(save_directory)
        state_dict = self.state_dict()
        if format == "mf":
            save_state_dict(state_dict, directory, MF_FORMAT, max_shard_size,
                            {"model_type": self.config.model_type})
        else:
            save_state_dict(self.converter().mf_to_hf(state_dict, self.config), directory, "pt", max_shard_size)
        self.config.save_pretrained(directory, format=format, architectures=[type(self).__name__])

    def transformer_blocks(self):
        """(name, cell) of the repeated transformer blocks, for recompute and pipeline stages.

        The default finds the model's first CellList; families with another layout override it.
        """
        for name, cell in self.cells_and_names():
            if isinstance(cell, nn.CellList):
                return [(f"{name}.{i}", block) for i, block in enumerate(cell)]
        return []

    def structure_changed(self):
        """Forget graphs compiled before layers were replaced (LoRA, tensor parallelism, merging).

        MindSpore keys a compiled graph by the Cell and its input shapes, not by its layers, so a
        model called before a layer swap would keep running the old graph.
        """
        for _, cell in self.cells_and_names():
            object.__setattr__(cell, "_create_time", time.time_ns())
        self.__dict__.pop("_mf_decoders", None)

    def num_parameters(self, only_trainable: bool = False) -> int:
        """How many parameters the model has (shared ones counted once)."""
        params = self.trainable_params() if only_trainable else [p for _, p in self.parameters_and_names()]
        return int(sum(int(np.prod(p.shape)) for p in params))


def _check_fits_in_memory(name: str, config: PretrainedConfig):
    """Refuse a configuration whose float32 parameters (and causal mask) alone exceed this machine's memory,
    before building anything: num_layers=10**9 would otherwise run until killed, seq_length=10**5 allocate
    tens of GB before a MemoryError."""
    shape_of = getattr(config, "transformer_shape", None)
    if shape_of is None:
        return
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return
    try:
        parameters = shape_of().parameters() * 4
        mask = 4 * int(getattr(config, "seq_length", 0) or 0) ** 2
    except Exception:  # a shape that cannot be estimated is left to the layers' own checks
        return
    if parameters + mask > memory:
        raise ConfigError(f"{name} of this configuration needs {(parameters + mask) / 2 ** 30:.1f} GiB for its "
                          f"float32 parameters ({parameters / 2 ** 30:.1f} GiB) and causal mask, more than this "
                          f"machine's {memory / 2 ** 30:.1f} GiB; check num_layers, hidden_size, vocab_size and "
                          f"seq_length")
