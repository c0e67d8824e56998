"""Hugging Face BLOOM checkpoints <-> mf: the same parameter names under `transformer.`.

The published bigscience checkpoints are saved from BloomModel (no `transformer.` prefix, no lm_head);
checkpoints saved from BloomForCausalLM carry the prefix and, tied, a copy of the embedding as lm_head.
"""


def hf_to_mf(state_dict, config):
    out = {}
    for name, value in state_dict.items():
        if name == "lm_head.weight":
            if config.tie_word_embeddings:
                continue  # the same tensor as word_embeddings
            out[name] = value
            continue
        if not name.startswith("transformer."):
            name = "transformer." + name
        out[name] = value
    return out


def mf_to_hf(state_dict, config):
    """mf's state dict -> BloomForCausalLM's (the same names)."""
    return dict(state_dict)


def hf_name(name, config=None):
    return name
