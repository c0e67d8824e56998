"""Losses shared by the model families."""
import mindspore as ms
from mindspore import nn, ops

from .. import kernels

IGNORE_INDEX = -100


class TokenCrossEntropy(nn.Cell):
    """Per-token NLL of logits [N, vocab] for labels [N]; 0 where the label is IGNORE_INDEX and NaN for any
    other label outside [0, vocab) (the fused kernel does the same: a wrong label never passes silently)."""

    def __init__(self):
        super().__init__()
        self.fused = kernels.op("cross_entropy")

    def construct(self, logits, labels):
        labels = labels.astype(ms.int32)
        if self.fused is not None:
            return self.fused(logits, labels)[0]
        valid = labels != IGNORE_INDEX
        inside = ops.logical_and(labels >= 0, labels < logits.shape[-1])
        safe = ops.where(inside, labels, ops.zeros_like(labels))
        nll = ops.logsumexp(logits, -1) - ops.gather_elements(logits, 1, safe.reshape(-1, 1)).reshape(-1)
        wrong = ops.logical_and(valid, ops.logical_not(inside))
        return ops.where(wrong, ops.full_like(nll, float("nan")), nll * valid.astype(logits.dtype))


class CausalLMLoss(nn.Cell):
    """Mean next-token NLL: logits[:, t] predicts labels[:, t + 1]; IGNORE_INDEX is skipped."""

    def __init__(self):
        super().__init__()
        self.token_nll = TokenCrossEntropy()

    def construct(self, logits, labels):
        vocab = logits.shape[-1]
        shifted_labels = labels[:, 1:].reshape(-1)
        nll = self.token_nll(logits[:, :-1, :].reshape(-1, vocab), shifted_labels)
        count = (shifted_labels != IGNORE_INDEX).astype(ms.float32).sum()
        return nll.sum() / ops.maximum(count, 1.0)


class TokenLoss(nn.Cell):
    """Mean NLL of logits [..., vocab] for labels [...] of the same positions; IGNORE_INDEX is skipped
    (an encoder-decoder's labels, a masked LM's)."""

    def __init__(self):
        super().__init__()
        self.token_nll = TokenCrossEntropy()

    def construct(self, logits, labels):
        labels = labels.reshape(-1).astype(ms.int32)
        nll = self.token_nll(logits.reshape(-1, logits.shape[-1]), labels)
        count = (labels != IGNORE_INDEX).astype(ms.float32).sum()
        return nll.sum() / ops.maximum(count, 1.0)


def contrastive_loss(logits_per_image, valid=None):
    """CLIP's symmetric InfoNCE: logits_per_image [N, N] (image i against caption j; pair i matches), the
    mean of the cross entropy over each image's captions and over each caption's images. valid [N] (1/0)
    leaves rows and columns out (padding): they are neither targets nor negatives."""
    n = logits_per_image.shape[0]
    logits = logits_per_image.astype(ms.float32)
    matching = (logits * ops.eye(n, n, ms.float32)).sum(-1)
    if valid is None:
        valid = ops.ones((n,), ms.float32)
    valid = valid.astype(ms.float32)
    hidden = (1.0 - valid) * -1e9
    image_nll = ops.logsumexp(logits + hidden.reshape(1, n), -1) - matching
    caption_nll = ops.logsumexp(logits + hidden.reshape(n, 1), 0) - matching
    count = ops.maximum(valid.sum(), 1.0)
    return ((image_nll * valid).sum() + (caption_nll * valid).sum()) / (2.0 * count)
