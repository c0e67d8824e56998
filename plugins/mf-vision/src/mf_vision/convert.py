"""Hugging Face ViT / DINOv2 / Swin checkpoints <-> mf names.

mf keeps Hugging Face's (Hub checkpoint) names. What differs: buffers that older checkpoints store and mf
computes (Swin's relative_position_index, position_ids), which are dropped on load and not written back,
as transformers' own exports leave them out.
"""
import re

_BUFFERS = re.compile(r"(relative_position_index|position_ids)$")


def hf_to_mf(state_dict, config):
    """A Hugging Face state dict in mf names (buffers dropped)."""
    return {name: value for name, value in state_dict.items() if not _BUFFERS.search(name)}


def mf_to_hf(state_dict, config):
    """mf names -> a state dict transformers' classes load."""
    return dict(state_dict)


def hf_name(name, config):
    """The Hugging Face name of an mf parameter (the same)."""
    return name
