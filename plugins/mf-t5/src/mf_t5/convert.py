"""Hugging Face T5 checkpoints <-> mf names.

mf keeps Hugging Face's names. A checkpoint may or may not hold the copies of the shared embedding
(encoder.embed_tokens, decoder.embed_tokens, and lm_head when the head is tied): mf stores the
embedding once, as `shared.weight`, and writes the copies back when exporting, so that any reader
finds them.
"""
_EMBEDDING_COPIES = ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight")


def hf_to_mf(state_dict, config):
    """A Hugging Face T5 state dict in mf names."""
    out = {name: value for name, value in state_dict.items() if name not in _EMBEDDING_COPIES}
    if "shared.weight" not in out:  # some exports keep only the encoder's copy
        for name in _EMBEDDING_COPIES:
            if name in state_dict:
                out["shared.weight"] = state_dict[name]
                break
    if config.tie_word_embeddings:
        out.pop("lm_head.weight", None)
    return out


def mf_to_hf(state_dict, config):
    """mf names -> a state dict that transformers' T5 classes load (tied copies written out)."""
    out = dict(state_dict)
    if "shared.weight" in out:
        for name in _EMBEDDING_COPIES:
            out[name] = out["shared.weight"]
        if config.tie_word_embeddings:
            out["lm_head.weight"] = out["shared.weight"]
    return out


def hf_name(name, config):
    """The Hugging Face name of an mf parameter (T5 keeps Hugging Face's names)."""
    return name
