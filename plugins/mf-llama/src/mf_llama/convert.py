"""Hugging Face LLaMA checkpoints <-> mf (MindFormers) names and the rotary layout.

Hugging Face stores each query/key head with the rotary halves split ([re_0..re_n, im_0..im_n]);
Meta's and mf's layout interleaves them (re_0, im_0, re_1, im_1, ...). Query and key rows are
permuted on the way in and back on the way out.
"""
import numpy as np

# (Hugging Face, mf) name fragments
_NAMES = [
    ("model.embed_tokens.", "model.tok_embeddings."),
    (".self_attn.q_proj.", ".attention.wq."),
    (".self_attn.k_proj.", ".attention.wk."),
    (".self_attn.v_proj.", ".attention.wv."),
    (".self_attn.o_proj.", ".attention.wo."),
    (".mlp.gate_proj.", ".feed_forward.w1."),
    (".mlp.down_proj.", ".feed_forward.w2."),
    (".mlp.up_proj.", ".feed_forward.w3."),
    (".input_layernorm.", ".attention_norm."),
    (".post_attention_layernorm.", ".ffn_norm."),
    ("model.norm.", "model.norm_out."),
]


def mf_name(name, config=None):
    """The mf name of a Hugging Face parameter."""
    for hf, mf in _NAMES:
        name = name.replace(hf, mf)
    return name


def hf_name(name, config=None):
    """The Hugging Face name of an mf parameter."""
    for hf, mf in _NAMES:
        name = name.replace(mf, hf)
    return name


def _rows(value, heads, to_interleaved):
    """Permute each head's rows between the split-halves and interleaved rotary layouts."""
    out_features = value.shape[0]
    head_dim = out_features // heads
    rest = value.shape[1:]
    if to_interleaved:   # [heads, 2, head_dim / 2] -> [heads, head_dim / 2, 2]
        permuted = value.reshape(heads, 2, head_dim // 2, *rest).swapaxes(1, 2)
    else:                # [heads, head_dim / 2, 2] -> [heads, 2, head_dim / 2]
        permuted = value.reshape(heads, head_dim // 2, 2, *rest).swapaxes(1, 2)
    return np.ascontiguousarray(permuted.reshape(out_features, *rest))


def hf_to_mf(state_dict, config):
    """A Hugging Face LLaMA state dict in mf names and rotary layout."""
    out = {}
    for name, value in state_dict.items():
        if "rotary_emb.inv_freq" in name:
            continue
        if name == "lm_head.weight" and config.tie_word_embeddings:
            continue
        if not name.startswith(("model.", "lm_head.")):
            name = "model." + name  # a bare LlamaModel checkpoint
        name = mf_name(name)
        if ".attention.wq." in name:
            value = _rows(value, config.num_heads, to_interleaved=True)
        elif ".attention.wk." in name:
            value = _rows(value, config.kv_heads, to_interleaved=True)
        out[name] = value
    return out


def mf_to_hf(state_dict, config):
    """mf names and layout -> a state dict that transformers' LlamaForCausalLM loads."""
    out = {}
    for name, value in state_dict.items():
        if ".attention.wq." in name:
            value = _rows(value, config.num_heads, to_interleaved=False)
        elif ".attention.wk." in name:
            value = _rows(value, config.kv_heads, to_interleaved=False)
        out[hf_name(name, config)] = value
    return out
