"""PanGu-Alpha checkpoints <-> mf. mf keeps the Hugging Face port's names (GPTPanguForCausalLM); MindFormers'
names (PanguAlphaHeadModel: backbone.blocks.N..., backbone.top_query_layer, gamma/beta LayerNorms) are read too.

MindFormers' layouts: q/k/v (dense1/2/3) store [out, in] as mf does; the attention output projection and both
MLP matrices (projection, mapping) store [in, out] and are transposed. Its blocks hold the first num_layers - 1
layers and top_query_layer the last; mf's h holds all num_layers with the top query layer last, as the port's.
"""
import re

import numpy as np

_BUFFERS = re.compile(r"\.attn\.(bias|masked_bias)$")
_MINDFORMERS_LAYER = {
    "layernorm1.gamma": "ln_1.weight", "layernorm1.beta": "ln_1.bias",
    "layernorm2.gamma": "ln_2.weight", "layernorm2.beta": "ln_2.bias",
    "attention.dense1.weight": "attn.q_proj.weight", "attention.dense1.bias": "attn.q_proj.bias",
    "attention.dense2.weight": "attn.k_proj.weight", "attention.dense2.bias": "attn.k_proj.bias",
    "attention.dense3.weight": "attn.v_proj.weight", "attention.dense3.bias": "attn.v_proj.bias",
    "attention.projection.weight": "attn.c_proj.weight", "attention.projection.bias": "attn.c_proj.bias",
    "output.mapping.weight": "mlp.c_fc.weight", "output.mapping.bias": "mlp.c_fc.bias",
    "output.projection.weight": "mlp.c_proj.weight", "output.projection.bias": "mlp.c_proj.bias",
}
_MINDFORMERS_TRANSPOSED = ("attention.projection.weight", "output.mapping.weight", "output.projection.weight")
_MINDFORMERS_GLOBAL = {
    "backbone.embedding.word_embedding.embedding_table": "transformer.wte.weight",
    "backbone.embedding.position_embedding.embedding_table": "transformer.wpe.weight",
    "backbone.top_query_embedding.embedding_table": "transformer.wqe.weight",
    "backbone.layernorm.gamma": "transformer.ln_f.weight",
    "backbone.layernorm.beta": "transformer.ln_f.bias",
}
# what a MindFormers training checkpoint holds besides the model (optimizer moments, step counters, loss scale)
_MINDFORMERS_TRAINING_STATE = re.compile(r"^(adam_[mv]|moment[12]|accu_grads|global_step|current_iterator_step|"
                                         r"last_overflow_iterator_step|epoch_num|step_num|loss_scale|scale_sense|"
                                         r"learning_rate|beta[12]_power)")


def _from_mindformers(name, value, config):
    if name in _MINDFORMERS_GLOBAL:
        return _MINDFORMERS_GLOBAL[name], value
    match = re.match(r"backbone\.(?:blocks\.(\d+)|(top_query_layer))\.(.+)$", name)
    if match is None or match.group(3) not in _MINDFORMERS_LAYER:
        return name, value  # unknown: kept, so that the loader names it
    layer = int(match.group(1)) if match.group(1) is not None else config.num_layers - 1
    if match.group(3) in _MINDFORMERS_TRANSPOSED:
        value = np.ascontiguousarray(value.T)
    return f"transformer.h.{layer}.{_MINDFORMERS_LAYER[match.group(3)]}", value


def hf_to_mf(state_dict, config):
    """A port (GPTPanguForCausalLM / GPTPanguModel) or MindFormers (PanguAlphaHeadModel) state dict in mf's names."""
    out = {}
    for name, value in state_dict.items():
        if _MINDFORMERS_TRAINING_STATE.match(name):
            continue
        if name.startswith("backbone."):
            name, value = _from_mindformers(name, value, config)
        elif _BUFFERS.search(name) or (name == "lm_head.weight" and config.tie_word_embeddings):
            continue  # the causal-mask buffers; a tied head is the word embedding
        elif not name.startswith(("transformer.", "lm_head.")):
            name = "transformer." + name
        out[name] = value
    return out


def mf_to_hf(state_dict, config):
    """mf's state dict -> the Hugging Face port's (the same names; the port's config ties the head)."""
    return dict(state_dict)


def hf_name(name, config=None):
    return name
