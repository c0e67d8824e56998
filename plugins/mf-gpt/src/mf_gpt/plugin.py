"""What mf-gpt registers with mf."""
from mf import hookimpl

# the mf.PLUGIN_API versions this plugin works with
MF_PLUGIN_API = ">=1.0,<2"

from . import convert
from .card import CARD
from .configuration import GPT2Config
from .modeling import GPT2LMHeadModel, GPT2Model
from .sharding import GPT2_SHARDING
from .presets import GPT2_LORA_PRESETS, GPT2_PRESETS, GPT2_WEIGHTS
from .processing import GPT2Processor
from .tokenization import GPT2Tokenizer, bundled_vocab_files


@hookimpl
def mf_register_models(registry):
    registry.add_model_family(
        "gpt2", GPT2Config, {"base": GPT2Model, "causal_lm": GPT2LMHeadModel}, default_role="causal_lm",
        tokenizer_class=GPT2Tokenizer, processor_class=GPT2Processor, converter=convert,
        hf_model_types=("gpt2",), sharding_plan=GPT2_SHARDING, pet_target_modules=("c_attn", "attn.c_proj"), card=CARD)
    registry.export(GPT2Config, GPT2Model, GPT2LMHeadModel, GPT2Tokenizer, GPT2Processor)
    for name, (description, config) in GPT2_PRESETS.items():
        registry.add_preset(name, "gpt2", config, description=description,
                            tokenizer=bundled_vocab_files(), processor={"max_length": 128}, **GPT2_WEIGHTS[name])
    for name, (base, lora) in GPT2_LORA_PRESETS.items():
        registry.add_preset(name, "gpt2", GPT2_PRESETS[base][1], description=f"{base} with LoRA {lora}",
                            tokenizer=bundled_vocab_files(), processor={"max_length": 128},
                            pet={"pet_method": "lora", **lora}, weights_from=base)
