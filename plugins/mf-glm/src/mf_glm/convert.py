"""ChatGLM-6B checkpoints <-> mf: the same parameter names; query/key rows in mf's rotary layout.

ChatGLM rotates each half of a head (the token-position half and the block-position half) by splitting it
into two quarters ([re_0..re_n, im_0..im_n]); mf's rotary kernel pairs adjacent features
(re_0, im_0, re_1, im_1, ...). The query and key rows of every head's slice of query_key_value are permuted on
the way in and back on the way out (the values are not rotated and keep their order); attention scores are
unchanged because queries and keys move alike.
"""
import numpy as np

from .modeling import glm_rotary_tables


def mf_name(name, config=None):
    return name


def hf_name(name, config=None):
    return name


def _qkv_rows(value, config, to_interleaved):
    """Permute the q and k rows of a [3 * hidden, ...] query_key_value weight or bias (per-head layout)."""
    heads, head_dim = config.num_heads, config.head_dim
    rest = value.shape[1:]
    quarter = head_dim // 4
    # [heads, (q, k, v), (half 0, half 1), head_dim / 2, ...]
    per_head = value.reshape(heads, 3, 2, head_dim // 2, *rest).copy()
    for part in (0, 1):  # query and key
        halves = per_head[:, part]
        if to_interleaved:   # [2 quarters, quarter] -> [quarter, 2]
            halves = halves.reshape(heads, 2, 2, quarter, *rest).swapaxes(2, 3)
        else:                # [quarter, 2] -> [2 quarters, quarter]
            halves = halves.reshape(heads, 2, quarter, 2, *rest).swapaxes(2, 3)
        per_head[:, part] = halves.reshape(heads, 2, head_dim // 2, *rest)
    return np.asarray(per_head.reshape(value.shape), order="C")


def hf_to_mf(state_dict, config):
    """A ChatGLM-6B state dict (ChatGLMForConditionalGeneration or a bare ChatGLMModel) in mf's layout."""
    out = {}
    for name, value in state_dict.items():
        if name.endswith("rotary_emb.inv_freq"):
            continue  # mf computes the same fp16-rounded frequencies (modeling.glm_rotary_tables)
        if not name.startswith(("transformer.", "lm_head.")):
            name = "transformer." + name
        if ".attention.query_key_value." in name:
            value = _qkv_rows(value, config, to_interleaved=True)
        out[name] = value
    if "lm_head.weight" not in out and "transformer.word_embeddings.weight" in out:
        out["lm_head.weight"] = out["transformer.word_embeddings.weight"]  # a checkpoint saved with a tied head
    return out


def mf_to_hf(state_dict, config):
    """mf's state dict -> ChatGLM-6B's (with each layer's rotary_emb.inv_freq buffer, as its checkpoints have)."""
    out = {}
    for name, value in state_dict.items():
        if ".attention.query_key_value." in name:
            value = _qkv_rows(value, config, to_interleaved=False)
        out[name] = value
    dim = config.head_dim // 2
    inv_freq = (1.0 / (config.rotary_base ** (np.arange(0, dim, 2).astype(np.float32) / dim))).astype(np.float16)
    for layer in range(config.num_layers):
        if f"transformer.layers.{layer}.attention.query_key_value.weight" in out:
            out[f"transformer.layers.{layer}.attention.rotary_emb.inv_freq"] = inv_freq.astype(np.float32)
    return out


__all__ = ["hf_to_mf", "mf_to_hf", "mf_name", "hf_name", "glm_rotary_tables"]
