"""Hugging Face ViT / DINOv2 / Swin / ViTMAE / CLIP checkpoints <-> mf names.

mf keeps Hugging Face's (Hub checkpoint) names. What differs: buffers that older checkpoints store and mf
computes (Swin's relative_position_index, position_ids), which are dropped on load and not written back,
as transformers' own exports leave them out; and ViTMAE's decoder blocks, which the Hub's checkpoints call
decoder.decoder_layers.N and transformers 5 writes as decoder.decoder_encoder.layer.N (both load; the
Hub's names are written, which transformers 5 reads too).
"""
import re

from mf.errors import WeightsError

_BUFFERS = re.compile(r"(relative_position_index|position_ids)$")
_MAE_DECODER_BLOCKS = re.compile(r"^decoder\.decoder_encoder\.layer\.")


def hf_to_mf(state_dict, config):
    """A Hugging Face state dict in mf names (buffers dropped)."""
    return {_MAE_DECODER_BLOCKS.sub("decoder.decoder_layers.", name): value for name, value in state_dict.items()
            if not _BUFFERS.search(name)}


def mf_to_hf(state_dict, config):
    """mf names -> a state dict transformers' classes load."""
    if getattr(config, "stem_channels", None):
        raise WeightsError(f"a ViT with a convolutional stem (stem_channels {config.stem_channels}) has no "
                           f"transformers equivalent: save it with format='mf'")
    return dict(state_dict)


def hf_name(name, config):
    """The Hugging Face name of an mf parameter (the same)."""
    return name
