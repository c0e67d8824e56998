"""What mf-glm registers with mf."""
from mf import hookimpl

# the mf.PLUGIN_API versions this plugin works with
MF_PLUGIN_API = ">=1.0,<2"

from . import convert
from .card import CARD
from .configuration import GLMConfig
from .modeling import GLMForCausalLM, GLMModel
from .presets import GLM_LORA_PRESETS, GLM_PRESETS, GLM_WEIGHTS
from .sharding import GLM_SHARDING
from .tokenization import ChatGLMTokenizer, bundled_tokenizer_model


@hookimpl
def mf_register_models(registry):
    registry.add_model_family(
        "glm", GLMConfig, {"base": GLMModel, "causal_lm": GLMForCausalLM}, default_role="causal_lm",
        tokenizer_class=ChatGLMTokenizer, converter=convert, hf_model_types=("chatglm",),
        sharding_plan=GLM_SHARDING, pet_target_modules=("query_key_value",), card=CARD,
        response_metrics=("adgen_scores",))
    registry.export(GLMConfig, GLMModel, GLMForCausalLM, ChatGLMTokenizer)
    # MindFormers' names for the same model (its glm_6b and glm_6b_chat model classes)
    registry.export(GLMForCausalLM, name="GLMForPreTraining")
    registry.export(GLMForCausalLM, name="GLMChatModel")
    tokenizer = {"vocab_file": bundled_tokenizer_model()}
    for name, (description, config) in GLM_PRESETS.items():
        registry.add_preset(name, "glm", config, description=description, tokenizer=tokenizer, **GLM_WEIGHTS[name])
    for name, (base, lora) in GLM_LORA_PRESETS.items():
        registry.add_preset(name, "glm", GLM_PRESETS[base][1], description=f"{base} with LoRA {lora}",
                            tokenizer=tokenizer, pet={"pet_method": "lora", **lora}, weights_from=base)


@hookimpl
def mf_register_tasks(registry):
    from .metrics import adgen_scores

    registry.add_metric("adgen_scores", adgen_scores)
