"""What mf-llama registers with mf."""
from mf import hookimpl

# the mf.PLUGIN_API versions this plugin works with
MF_PLUGIN_API = ">=1.0,<2"

from . import convert
from .card import CARD
from .configuration import LlamaConfig
from .modeling import LlamaForCausalLM, LlamaModel
from .sharding import LLAMA_SHARDING
from .presets import LLAMA_LORA_PRESETS, LLAMA_PRESETS, LLAMA_WEIGHTS
from .tokenization import LlamaTokenizer, bundled_tokenizer_model


@hookimpl
def mf_register_models(registry):
    registry.add_model_family(
        "llama", LlamaConfig, {"base": LlamaModel, "causal_lm": LlamaForCausalLM}, default_role="causal_lm",
        tokenizer_class=LlamaTokenizer, converter=convert, hf_model_types=("llama",),
        sharding_plan=LLAMA_SHARDING, pet_target_modules=("wq", "wk", "wv", "wo"), card=CARD)
    registry.export(LlamaConfig, LlamaModel, LlamaForCausalLM, LlamaTokenizer)
    tokenizer = {"vocab_file": bundled_tokenizer_model()}
    for name, (description, config) in LLAMA_PRESETS.items():
        registry.add_preset(name, "llama", config, description=description, tokenizer=tokenizer,
                            **LLAMA_WEIGHTS[name])
    for name, (base, lora) in LLAMA_LORA_PRESETS.items():
        registry.add_preset(name, "llama", LLAMA_PRESETS[base][1], description=f"{base} with LoRA {lora}",
                            tokenizer=tokenizer, pet={"pet_method": "lora", **lora}, weights_from=base)
