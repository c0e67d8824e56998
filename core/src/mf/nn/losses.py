"""Losses shared by the model families."""
from mindspore import ops

IGNORE_INDEX = -100


def causal_lm_loss(logits, labels):
    """Mean next-token cross entropy: logits[:, t] predicts labels[:, t + 1]; IGNORE_INDEX is skipped."""
    vocab = logits.shape[-1]
    shifted_logits = logits[:, :-1, :].reshape(-1, vocab)
    shifted_labels = labels[:, 1:].reshape(-1).astype("int32")
    return ops.cross_entropy(shifted_logits, shifted_labels, ignore_index=IGNORE_INDEX, reduction="mean")
