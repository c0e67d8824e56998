"""Hugging Face GPT-2 checkpoints <-> mf names and layouts.

mf keeps Hugging Face's parameter names; the differences are the layout of the
projection weights (Hugging Face's Conv1D stores [in, out], mf's Linear [out, in]),
the `transformer.` prefix that the published checkpoints omit, and buffers and a
tied lm_head that are not parameters in mf.
"""
import re

import numpy as np

_CONV1D = re.compile(r"\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$")
_BUFFERS = re.compile(r"\.attn\.(bias|masked_bias)$")


def hf_to_mf(state_dict, config):
    """A Hugging Face GPT-2 state dict (with or without `transformer.`) in mf names and layouts."""
    out = {}
    for name, value in state_dict.items():
        if _BUFFERS.search(name):
            continue
        if name == "lm_head.weight":
            if config.tie_word_embeddings:
                continue  # the same tensor as wte
            out[name] = value
            continue
        if not name.startswith("transformer."):
            name = "transformer." + name
        if _CONV1D.search(name) and value.ndim == 2:
            value = np.ascontiguousarray(value.T)
        out[name] = value
    return out


def mf_to_hf(state_dict, config):
    """mf names and layouts -> a state dict that transformers' GPT2LMHeadModel loads."""
    out = {}
    for name, value in state_dict.items():
        if _CONV1D.search(name) and value.ndim == 2:
            value = np.ascontiguousarray(value.T)
        out[name] = value
    return out


def hf_name(name, config):
    """The Hugging Face name of an mf parameter (GPT-2 keeps Hugging Face's names)."""
    return name
