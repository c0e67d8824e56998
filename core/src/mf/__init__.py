"""mf: a MindSpore large-model kit with a plugin architecture.

Model families are separate distributions (mf-gpt, mf-llama, ...) found through
the `mf.plugins` entry point group; their classes are importable from here
(`from mf import GPT2LMHeadModel`) once installed.
"""
import os
from importlib import import_module
from importlib.util import find_spec

# MindSpore's oneDNN kernels and mf's own kernels use OpenMP, whose default policy keeps idle
# threads spinning after each parallel region; on a CPU with few cores they steal the cores from
# the next kernel (a LLaMA decoding step ran 1.7x slower). libgomp reads this when MindSpore
# loads it, so it only takes effect when mf is imported before mindspore.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# ...but not asleep at once: waking a sleeping team costs 30-110 us (more on a busy virtual machine), which a
# decoding step paid at many of its hundreds of small kernels. A spin keeps the team awake from one kernel to the
# next and still yields the cores to MindSpore's threads in longer gaps. libgomp assumes ~100 spins a microsecond;
# on the Intel Xeon of the benchmarks a spin is slower (2000 spins ~40 us, 20000 ~200-400 us), and 2000 let the
# team fall asleep inside a step: 20000 decodes SmolLM2-135M int8 10-20% faster at batch 1 and 8 there and leaves
# GPT-2 small training unchanged (README, "Speed on CPU").
os.environ.setdefault("GOMP_SPINCOUNT", "20000")

__version__ = "0.1.0"

# The version of the plugin contract (hooks, registry calls, model bases and roles). A plugin
# declares the range it works with as MF_PLUGIN_API = ">=1.0,<2" in its plugin module; minor
# versions only add, a major version may change or remove (docs/plugins.md, "Versioning").
PLUGIN_API = "1.0"

# name -> module that defines it; imported on first use so `import mf` stays cheap
_CORE_EXPORTS = {
    "hookimpl": "hookspecs",
    "PretrainedConfig": "config",
    "PreTrainedModel": "modeling",
    "PreTrainedTokenizer": "tokenization.base",
    "BatchEncoding": "tokenization.base",
    "ByteLevelBPETokenizer": "tokenization.backend",
    "TokenizerJsonTokenizer": "tokenization.backend",
    "SentencePieceTokenizer": "tokenization.sentencepiece",
    "ByteTokenizer": "tokenization.byte",
    "ProcessorMixin": "processing",
    "AutoConfig": "auto",
    "AutoModel": "auto",
    "AutoModelForCausalLM": "auto",
    "AutoModelForBase": "auto",
    "AutoTokenizer": "auto",
    "AutoProcessor": "auto",
    "AutoImageProcessor": "auto",
    "show_support_list": "auto",
    "get_registry": "plugins",
    "Trainer": "trainer",
    "TrainingArguments": "trainer",
    "Callback": "trainer",
    "TrainerState": "trainer",
    "set_seed": "seed",
    "init_context": "parallel",
    "ContextConfig": "parallel",
    "ParallelContextConfig": "parallel",
    "ParallelConfig": "parallel",
    "RecomputeConfig": "parallel",
    "TokenBlocks": "data",
    "load_dataset": "data",
    "LoraConfig": "pet",
    "apply_pet": "pet",
    "load_adapter": "pet",
    "save_adapter": "pet",
    "merge_and_unload": "pet",
    "pipeline": "pipelines",
    "Pipeline": "pipelines",
    "GenerationConfig": "generation",
    "GenerationMixin": "generation",
    "TextStreamer": "generation",
    "TextIteratorStreamer": "generation",
    "MFError": "errors",
    "ConfigError": "errors",
    "WeightsError": "errors",
    "WeightsNotFoundError": "errors",
    "TokenizerError": "errors",
    "ImageError": "errors",
    "ImageProcessor": "image_processing",
    "UnknownNameError": "errors",
    "PluginConflictError": "errors",
    "PluginError": "errors",
    "CausalLM": "models",
    "DecoderModel": "models",
}

__all__ = sorted(_CORE_EXPORTS)


def __getattr__(name):
    if name in _CORE_EXPORTS:
        value = getattr(import_module(f".{_CORE_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    if name.startswith("__"):
        raise AttributeError(name)
    if find_spec(f"{__name__}.{name}") is not None:  # a submodule, e.g. `from mf import nn`
        return import_module(f".{name}", __name__)
    from .catalogue import first_party_distribution
    from .plugins import get_registry

    value = get_registry().exports.get(name)
    if value is not None:
        return value
    dist = first_party_distribution(name, "names")
    if dist is not None:
        raise ImportError(f"mf.{name} is provided by {dist}, which is not installed: pip install {dist}")
    raise AttributeError(f"module 'mf' has no attribute '{name}'")


def __dir__():
    from .plugins import get_registry

    return sorted(set(globals()) | set(_CORE_EXPORTS) | set(get_registry().exports.names()))
