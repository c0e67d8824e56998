"""LoRA (Hu et al. 2021): low-rank adapters on a model's Linear layers.

A wrapped layer keeps its frozen weight and bias under their original names and
adds lora_A [r, in] and lora_B [out, r]: y = x W^T + b + dropout(x) A^T B^T * alpha / r.
B starts at zero, so a fresh adapter leaves the model's outputs exactly as they were.
Adapters save in Hugging Face PEFT's format (adapter_config.json +
adapter_model.safetensors with `base_model.model.<hf name>.lora_A.weight` names).
"""
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import List, Optional, Union

import numpy as np
import mindspore as ms
import regex
from mindspore import Parameter, nn, ops
from mindspore.common.initializer import HeUniform, Zero, initializer

from ..errors import MFError, WeightsError
from ..fileio import read_json, write_json
from ..nn.dropout import Dropout
from ..nn.layers import Linear

ADAPTER_CONFIG_NAME = "adapter_config.json"
ADAPTER_WEIGHTS_NAME = "adapter_model.safetensors"
PEFT_PREFIX = "base_model.model."


class PETError(MFError, ValueError):
    """A PET configuration or adapter that does not fit the model."""


@dataclass
class LoraConfig:
    """LoRA settings, with PEFT's names (`rank` is accepted for `r`)."""
    r: int = 8
    lora_alpha: float = 16.0
    lora_dropout: float = 0.0
    # layer names (a layer matches when its path ends with the name) or one regular expression
    target_modules: Union[List[str], str, None] = None
    # layers trained fully alongside the adapter (e.g. a task head)
    modules_to_save: Optional[List[str]] = None

    def __post_init__(self):
        if not isinstance(self.r, int) or self.r <= 0:
            raise PETError(f"LoRA rank r must be a positive integer, got {self.r!r}")
        if self.lora_alpha <= 0:
            raise PETError(f"lora_alpha must be > 0, got {self.lora_alpha!r}")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise PETError(f"lora_dropout must be in [0, 1), got {self.lora_dropout!r}")

    @property
    def scaling(self) -> float:
        return self.lora_alpha / self.r


class LoraLinear(Linear):
    """A Linear layer with a LoRA adapter; the base weight and bias are frozen."""

    plain_product = False  # the adapter's product is added

    def __init__(self, base: Linear, config: LoraConfig):
        super().__init__(base.in_features, base.out_features, bias=base.bias is not None)
        # share the base layer's Parameters: the base weights stay exactly what they were
        self.weight = base.weight
        self.bias = base.bias
        self.weight.requires_grad = False
        if self.bias is not None:
            self.bias.requires_grad = False
        self.r = config.r
        self.scaling = config.scaling
        # PEFT initialises A like a Linear layer (Kaiming uniform) and B with zeros
        self.lora_A = Linear(base.in_features, config.r, bias=False)
        self.lora_A.weight.set_data(initializer(HeUniform(negative_slope=math.sqrt(5)),
                                                (config.r, base.in_features), ms.float32))
        self.lora_B = Linear(config.r, base.out_features, bias=False)
        self.lora_B.weight.set_data(initializer(Zero(), (base.out_features, config.r), ms.float32))
        self.lora_dropout = Dropout(config.lora_dropout)

    def construct(self, x):
        base = super().construct(x)
        return base + self.lora_B(self.lora_A(self.lora_dropout(x))) * self.scaling

    def merged_weight(self) -> np.ndarray:
        return self.weight.asnumpy() + (self.lora_B.weight.asnumpy() @ self.lora_A.weight.asnumpy()) * self.scaling


def linear_layers(model):
    """(path, Linear) of every plain Linear layer of the model."""
    return [(name, cell) for name, cell in model.cells_and_names()
            if isinstance(cell, Linear) and not isinstance(cell, LoraLinear) and name]


# Seconds one layer name may take to match a string target_modules (names are short: a sane pattern
# takes microseconds)
PATTERN_TIMEOUT = 0.5


def _matches(name: str, targets) -> bool:
    """A string is a regular expression over the whole layer name (PEFT's rule); a list names layers by
    their last path components."""
    if isinstance(targets, str):
        try:
            return regex.fullmatch(targets, name, timeout=PATTERN_TIMEOUT) is not None
        except regex.error as error:
            raise PETError(f"target_modules {targets!r} is not a valid regular expression ({error}); give a "
                           f"list of layer names or a valid pattern") from None
        except TimeoutError:
            raise PETError(f"target_modules {targets!r} took over {PATTERN_TIMEOUT} s to match the layer name "
                           f"{name!r} (a catastrophically backtracking pattern); give a list of layer names or "
                           f"a simpler pattern") from None
    return any(name == t or name.endswith("." + t) for t in targets)


def _replace(model, path: str, new_cell):
    parent_path, _, child = path.rpartition(".")
    parent = model
    for part in parent_path.split(".") if parent_path else []:
        parent = parent[int(part)] if isinstance(parent, nn.CellList) else getattr(parent, part)
    if isinstance(parent, nn.CellList):
        parent[int(child)] = new_cell
    else:
        setattr(parent, child, new_cell)


def _rename_parameters(model):
    """Give every Parameter its full path as name (optimizers key their state by it)."""
    for name, param in model.parameters_and_names():
        param.name = name


def _structure_changed(model):
    if hasattr(model, "structure_changed"):
        model.structure_changed()


def default_targets(model):
    from ..plugins import get_registry

    family = get_registry().models.get(getattr(model.config, "model_type", ""))
    return list(family.pet_target_modules) if family is not None and family.pet_target_modules else None


def apply_lora(model, config: Optional[LoraConfig] = None, **options):
    """Wrap the matched Linear layers of model with LoRA, in place; freeze everything else."""
    if config is None:
        if "rank" in options:
            options["r"] = options.pop("rank")
        options.pop("pet_method", None)
        config = LoraConfig(**options)
    if config.target_modules is None:
        config.target_modules = default_targets(model)
        if not config.target_modules:
            raise PETError(f"{type(model).__name__} declares no default LoRA target modules; pass target_modules")
    candidates = linear_layers(model)
    chosen = [(name, cell) for name, cell in candidates if _matches(name, config.target_modules)]
    if not chosen:
        raise PETError(f"target_modules {config.target_modules!r} match no Linear layer of {type(model).__name__}. "
                       f"Its Linear layers are: {', '.join(name for name, _ in candidates)}")
    for param in model.get_parameters():
        param.requires_grad = False
    for name, cell in chosen:
        _replace(model, name, LoraLinear(cell, config))
    if config.modules_to_save:
        saved = [(n, c) for n, c in model.cells_and_names() if n and _matches(n, config.modules_to_save)]
        if not saved:
            raise PETError(f"modules_to_save {config.modules_to_save} match no layer of {type(model).__name__}")
        for _, cell in saved:
            for param in cell.get_parameters():
                param.requires_grad = True
    _rename_parameters(model)
    _structure_changed(model)
    model.__dict__["_mf_pet"] = {"method": "lora", "config": config}
    return model


def lora_config_of(model) -> LoraConfig:
    pet = model.__dict__.get("_mf_pet")
    if not pet or pet["method"] != "lora":
        raise PETError(f"{type(model).__name__} has no LoRA adapter; apply one with apply_pet(model, 'lora')")
    return pet["config"]


def adapter_state_dict(model):
    """The adapter's tensors (LoRA matrices and modules_to_save), mf names."""
    config = lora_config_of(model)
    state = {}
    for name, param in model.parameters_and_names():
        if ".lora_A." in name or ".lora_B." in name:
            state[name] = param.asnumpy()
        elif config.modules_to_save and param.requires_grad:
            state[name] = param.asnumpy()
    return state


def _hf_name(model, name: str) -> str:
    """The Hugging Face name of an mf parameter name, through the family's converter."""
    converter = getattr(model, "converter", lambda: None)()
    mapping = getattr(converter, "hf_name", None)
    for marker in (".lora_A.", ".lora_B."):
        if marker in name:
            layer, _, rest = name.partition(marker)
            base = mapping(layer + ".weight", model.config) if mapping else layer + ".weight"
            return base[: -len(".weight")] + marker + rest
    return mapping(name, model.config) if mapping else name


def save_adapter(model, save_directory):
    """Write adapter_config.json and adapter_model.safetensors in PEFT's format."""
    from ..weights import write_safetensors

    config = lora_config_of(model)
    directory = Path(save_directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {PEFT_PREFIX + _hf_name(model, name): value for name, value in adapter_state_dict(model).items()}
    write_safetensors({k: np.asarray(v, order="C") for k, v in tensors.items()}, directory / ADAPTER_WEIGHTS_NAME,
                {"format": "pt"})
    targets = config.target_modules
    write_json(directory / ADAPTER_CONFIG_NAME, {
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": config.r, "lora_alpha": config.lora_alpha,
        "lora_dropout": config.lora_dropout, "bias": "none", "inference_mode": True,
        "target_modules": targets if isinstance(targets, str) else list(targets),
        "modules_to_save": config.modules_to_save,
        "fan_in_fan_out": getattr(model.config, "model_type", "") == "gpt2",  # transformers' GPT-2 uses Conv1D
        "base_model_name_or_path": getattr(model.config, "name_or_path", ""),
        "mf_model_type": getattr(model.config, "model_type", ""),
    })


def load_adapter(model, adapter_directory):
    """Apply the adapter saved in adapter_directory to model (in place); returns model."""
    from ..weights import read_safetensors

    directory = Path(adapter_directory)
    config_path = directory / ADAPTER_CONFIG_NAME
    if not config_path.is_file():
        raise PETError(f"{directory} has no {ADAPTER_CONFIG_NAME}")
    saved = read_json(config_path, PETError)
    if saved.get("peft_type", "LORA") != "LORA":
        raise PETError(f"{config_path} holds a {saved.get('peft_type')} adapter; mf loads LORA adapters")
    for feature in ("use_dora", "use_rslora"):
        if saved.get(feature):
            raise PETError(f"{config_path} uses {feature}, which mf's LoRA does not implement")
    for pattern in ("rank_pattern", "alpha_pattern"):
        if saved.get(pattern):
            raise PETError(f"{config_path} sets per-layer {pattern}, which mf's LoRA does not implement")
    expected_type = saved.get("mf_model_type")
    if expected_type and expected_type != getattr(model.config, "model_type", expected_type):
        raise PETError(f"{directory} is an adapter for a '{expected_type}' model, not '{model.config.model_type}'")
    config = LoraConfig(r=saved["r"], lora_alpha=saved["lora_alpha"], lora_dropout=saved.get("lora_dropout", 0.0),
                        target_modules=saved["target_modules"], modules_to_save=saved.get("modules_to_save"))
    if model.__dict__.get("_mf_pet") is None:
        apply_lora(model, config)
    tensors, _ = read_safetensors(directory / ADAPTER_WEIGHTS_NAME)
    by_hf_name = {PEFT_PREFIX + _hf_name(model, name): (name, param)
                  for name, param in model.parameters_and_names()}
    expected = {k: v for k, v in by_hf_name.items() if ".lora_A." in k or ".lora_B." in k
                or (config.modules_to_save and v[1].requires_grad)}
    unknown = sorted(set(tensors) - set(by_hf_name))
    if unknown:
        raise WeightsError(f"{directory / ADAPTER_WEIGHTS_NAME} has tensors the model does not: "
                           f"{', '.join(unknown[:5])}; it was made for a different base model")
    missing = sorted(set(expected) - set(tensors))
    if missing:
        raise WeightsError(f"{directory / ADAPTER_WEIGHTS_NAME} lacks {', '.join(missing[:5])}")
    for hf_name, value in tensors.items():
        name, param = by_hf_name[hf_name]
        if tuple(value.shape) != tuple(param.shape):
            raise WeightsError(f"{directory / ADAPTER_WEIGHTS_NAME}: tensor {hf_name} has shape {list(value.shape)} "
                               f"but {name} needs {list(param.shape)}; the adapter was made for a different base model")
    for hf_name, value in tensors.items():
        by_hf_name[hf_name][1].set_data(ms.Tensor(value.astype(np.float32)))
    return model


def merge_and_unload(model):
    """Fold every adapter into its base weight and put plain Linear layers back; returns model."""
    lora_config_of(model)
    for name, cell in [(n, c) for n, c in model.cells_and_names() if isinstance(c, LoraLinear)]:
        plain = Linear(cell.in_features, cell.out_features, bias=cell.bias is not None)
        plain.weight.set_data(ms.Tensor(cell.merged_weight()))
        if cell.bias is not None:
            plain.bias.set_data(ms.Tensor(cell.bias.asnumpy()))
        _replace(model, name, plain)
    for param in model.get_parameters():
        param.requires_grad = True
    _rename_parameters(model)
    _structure_changed(model)
    model.__dict__.pop("_mf_pet", None)
    return model
