"""What mf-gpt registers with mf: the GPT-2, BLOOM and PanGu-Alpha families."""
from mf import hookimpl

# the mf.PLUGIN_API versions this plugin works with
MF_PLUGIN_API = ">=1.0,<2"

from . import convert
from .bloom import BloomConfig, BloomForCausalLM, BloomModel, BloomTokenizer
from .bloom import convert as bloom_convert
from .bloom.presets import BLOOM_LORA_PRESETS, BLOOM_PRESETS, BLOOM_WEIGHTS
from .bloom.sharding import BLOOM_SHARDING
from .bloom.tokenization import bundled_tokenizer_file
from .card import BLOOM_CARD, CARD, PANGUALPHA_CARD
from .configuration import GPT2Config
from .modeling import GPT2LMHeadModel, GPT2Model
from .pangualpha import (PanguAlphaConfig, PanguAlphaHeadModel, PanguAlphaModel, PanguAlphaProcessor,
                         PanguAlphaTokenizer)
from .pangualpha import convert as pangualpha_convert
from .pangualpha.presets import PANGUALPHA_PRESETS, PANGUALPHA_WEIGHTS
from .pangualpha.sharding import PANGUALPHA_SHARDING
from .pangualpha.tokenization import bundled_tokenizer_model
from .presets import GPT2_LORA_PRESETS, GPT2_PRESETS, GPT2_WEIGHTS
from .processing import GPT2Processor
from .sharding import GPT2_SHARDING
from .tokenization import GPT2Tokenizer, bundled_vocab_files


@hookimpl
def mf_register_models(registry):
    _register_gpt2(registry)
    _register_bloom(registry)
    _register_pangualpha(registry)


def _register_gpt2(registry):
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


def _register_bloom(registry):
    registry.add_model_family(
        "bloom", BloomConfig, {"base": BloomModel, "causal_lm": BloomForCausalLM}, default_role="causal_lm",
        tokenizer_class=BloomTokenizer, converter=bloom_convert, hf_model_types=("bloom",),
        sharding_plan=BLOOM_SHARDING, pet_target_modules=("query_key_value",), card=BLOOM_CARD)
    registry.export(BloomConfig, BloomModel, BloomForCausalLM, BloomTokenizer)
    registry.export(BloomForCausalLM, name="BloomLMHeadModel")  # MindFormers' name
    tokenizer = {"tokenizer_file": bundled_tokenizer_file()}
    for name, (description, config) in BLOOM_PRESETS.items():
        registry.add_preset(name, "bloom", config, description=description, tokenizer=tokenizer,
                            **BLOOM_WEIGHTS[name])
    for name, (base, lora) in BLOOM_LORA_PRESETS.items():
        registry.add_preset(name, "bloom", BLOOM_PRESETS[base][1], description=f"{base} with LoRA {lora}",
                            tokenizer=tokenizer, pet={"pet_method": "lora", **lora}, weights_from=base)


def _register_pangualpha(registry):
    registry.add_model_family(
        "pangualpha", PanguAlphaConfig, {"base": PanguAlphaModel, "causal_lm": PanguAlphaHeadModel},
        default_role="causal_lm", tokenizer_class=PanguAlphaTokenizer, processor_class=PanguAlphaProcessor,
        converter=pangualpha_convert, hf_model_types=("gpt_pangu",), sharding_plan=PANGUALPHA_SHARDING,
        pet_target_modules=("attn.q_proj", "attn.v_proj"), card=PANGUALPHA_CARD)
    registry.export(PanguAlphaConfig, PanguAlphaModel, PanguAlphaHeadModel, PanguAlphaTokenizer, PanguAlphaProcessor)
    registry.export(PanguAlphaHeadModel, name="GPTPanguForCausalLM")  # the Hugging Face port's name
    tokenizer = {"vocab_file": bundled_tokenizer_model()}
    for name, (description, config) in PANGUALPHA_PRESETS.items():
        registry.add_preset(name, "pangualpha", config, description=description, tokenizer=tokenizer,
                            processor={"max_length": 128}, **PANGUALPHA_WEIGHTS[name])
