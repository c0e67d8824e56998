"""Weight-only int8 quantisation for decoding.

Decoding a token reads every weight once, so its speed on a CPU is set by the bytes of the weights. Stored
as int8 with one float32 scale per output row (symmetric, max |row| / 127), the matrices of every Linear
layer and the output head take a quarter of the bytes. mf's streaming kernel (mf/kernels: SmallMatMulInt8)
rounds each activation row to 16 bits as it runs (max |row| / 32767; no measurable cost in perplexity) and
multiplies int16 by int8 with exact integer sums (AVX-512 VNNI's vpdpwssd where the CPU has it). Products
with many rows (a prompt's prefill) multiply float32 activations by the dequantised matrix in mf's GEMM
(MatMulNTInt8: the weights are dequantised as they are packed into cache-sized panels, never written out
whole).

    model.quantize("int8")                     # in place; or generate(..., weight_dtype="int8")
    model.save_pretrained(path)                # int8 values + scales; config.json records it
    AutoModel.from_pretrained(path)            # comes back quantised

Dynamic int8 (what PyTorch's quantize_dynamic does) goes one step further: with
`model.quantize("int8", activation_dtype="int8")` every product also quantises its input per row (per token:
max |x_row| / 127) as it runs and multiplies int8 by int8 with exact integer sums (SmallMatMulW8A8; VNNI's
64 products per instruction where the CPU has them), for prefill and decoding alike. Faster, above all for
batched decoding and prompts, at a measured cost in quality (benchmarks/quantization_quality.py).

Only models that declare `supports_weight_quantization` (mf's causal LMs, whose head and layers all read
their weights through mf.nn.Linear / Embedding) can be quantised; the others would read int8 as floats.
Quantised weights are for inference: the Trainer refuses them.
"""
from .errors import ConfigError

WEIGHT_DTYPES = ("float32", "int8")
ACTIVATION_DTYPES = ("float32", "int8")
# the key in config.json (transformers names its quantisation settings the same way)
CONFIG_KEY = "quantization_config"


def weight_dtype(model) -> str:
    """'int8' for a model whose weights quantize() replaced, else 'float32'."""
    settings = model.config.extra.get(CONFIG_KEY) or {}
    return settings.get("weight_dtype", "float32")


def activation_dtype(model) -> str:
    """'int8' for a model quantised with dynamic int8 activations, else 'float32'."""
    settings = model.config.extra.get(CONFIG_KEY) or {}
    return settings.get("activation_dtype", "float32")


def check_weight_dtype(value) -> str:
    if value not in WEIGHT_DTYPES:
        raise ConfigError(f"weight_dtype must be one of {', '.join(WEIGHT_DTYPES)}, got {value!r}")
    return value


def quantize(model, dtype: str = "int8", compute: bool = True, activations: str = None):
    """Quantise the model's Linear layers and output head in place (see the module docstring); compute=False
    only shapes the parameters for a quantised checkpoint to load into. activations="int8" makes the
    products dynamic int8; None keeps what the model has (float32 for a model not yet quantised). Returns
    the model."""
    from .nn.layers import Linear

    check_weight_dtype(dtype)
    if activations is not None and activations not in ACTIVATION_DTYPES:
        raise ConfigError(f"activation_dtype must be one of {', '.join(ACTIVATION_DTYPES)}, "
                          f"got {activations!r}")
    if activations == "int8" and dtype != "int8":
        raise ConfigError("int8 activations multiply int8 weights: quantize('int8', activation_dtype='int8')")
    current = weight_dtype(model)
    if dtype == current:
        if current == "int8" and activations not in (None, activation_dtype(model)):
            _use_activations(model, activations)  # the same int8 weights, the other kind of product
        return model
    if dtype == "float32":
        raise ConfigError(f"{current} weights cannot be turned back into the float32 ones; load the float32 model")
    if current != "float32":
        raise ConfigError(f"the model's weights are already {current}; load the float32 model to quantise "
                          f"it another way")
    if not getattr(model, "supports_weight_quantization", False):
        raise ConfigError(f"{type(model).__name__} does not support weight-only quantisation (only causal "
                          f"language models do); run it in float32")
    from .pet.lora import LoraLinear

    if any(isinstance(cell, LoraLinear) for _, cell in model.cells_and_names()):
        raise ConfigError("the model has LoRA adapters: merge them into the weights first "
                          "(mf.pet.merge_and_unload(model)), then quantise")
    layers = [cell for _, cell in model.cells_and_names() if isinstance(cell, Linear)]
    # the head too: a tied head is the token embedding (an untied lm_head is a Linear already quantised:
    # quantize_weights does nothing the second time)
    for cell in layers + [model.head_cell()]:
        cell.quantize_weights(compute)
    _record(model, {"weight_dtype": dtype, "scheme": "symmetric per output row"})
    _use_activations(model, activations or "float32")
    return model


def _use_activations(model, dtype: str) -> None:
    """Point every int8 product (the Linear layers and the head's WeightMatMul) at float32 or int8 inputs."""
    from .nn.layers import Linear, WeightMatMul

    for _, cell in model.cells_and_names():
        if isinstance(cell, (Linear, WeightMatMul)):
            cell.int8_activations = dtype == "int8"
    settings = {key: value for key, value in (model.config.extra.get(CONFIG_KEY) or {}).items()
                if not key.startswith("activation")}
    if dtype == "int8":
        settings.update(activation_dtype="int8", activation_scheme="symmetric per row (token), at run time")
    _record(model, settings)


def _record(model, settings: dict) -> None:
    model.config.extra[CONFIG_KEY] = settings  # written to config.json
    setattr(model.config, CONFIG_KEY, settings)  # read like any other config field
    model.__dict__.pop("_mf_decoders", None)  # graphs compiled for the previous weights or products

