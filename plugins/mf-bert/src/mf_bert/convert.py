"""Hugging Face BERT checkpoints <-> mf names.

mf keeps Hugging Face's names; the differences are the LayerNorm spelling of the original Google
checkpoints (gamma/beta), the tied MLM decoder (the word embeddings, with cls.predictions.bias as its
bias) that mf does not store twice, and buffers such as position_ids.
"""
import re

_OLD_LAYER_NORM = re.compile(r"LayerNorm\.(gamma|beta)$")
_TIED = ("cls.predictions.decoder.weight", "cls.predictions.decoder.bias")
_BUFFERS = re.compile(r"embeddings\.position_ids$")


def hf_to_mf(state_dict, config):
    """A Hugging Face BERT state dict (with or without `bert.`) in mf names."""
    out = {}
    for name, value in state_dict.items():
        if name in _TIED or _BUFFERS.search(name):
            continue
        name = _OLD_LAYER_NORM.sub(lambda m: "LayerNorm." + ("weight" if m.group(1) == "gamma" else "bias"), name)
        out[name] = value
    return out


def mf_to_hf(state_dict, config):
    """mf names -> a state dict that transformers' BERT classes load (the tied decoder written out)."""
    out = dict(state_dict)
    if "cls.predictions.bias" in out:
        word_embeddings = out.get("bert.embeddings.word_embeddings.weight")
        if word_embeddings is not None:
            out["cls.predictions.decoder.weight"] = word_embeddings
        out["cls.predictions.decoder.bias"] = out["cls.predictions.bias"]
    return out


def hf_name(name, config):
    """The Hugging Face name of an mf parameter (BERT keeps Hugging Face's names)."""
    return name
