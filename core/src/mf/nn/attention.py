"""Attention helpers: additive mask biases and scaled dot-product attention."""
import numpy as np
import mindspore as ms
from mindspore import ops

# Large enough to zero a softmax term, small enough not to overflow when added twice.
MASK_VALUE = -1e9


def causal_mask_bias(length):
    """[1, 1, L, L] bias: 0 where query i may see key j (j <= i), MASK_VALUE elsewhere.

    Built once per model on the host; forward passes slice it, which graph mode compiles statically.
    """
    allowed = np.tril(np.ones((length, length), dtype=bool))
    return ms.Tensor(np.where(allowed, 0.0, MASK_VALUE).astype(np.float32)[None, None])


def padding_mask_bias(attention_mask):
    """[B, 1, 1, k] bias from a [B, k] 0/1 mask: MASK_VALUE where the mask is 0."""
    mask = attention_mask.astype(ms.float32)
    return ((1.0 - mask) * MASK_VALUE).reshape(mask.shape[0], 1, 1, mask.shape[1])


def scaled_dot_product_attention(query, key, value, bias, scale, dropout=None):
    """softmax(q k^T * scale + bias) v for [B, heads, T, head_dim] tensors."""
    scores = ops.matmul(query, key.swapaxes(-1, -2)) * scale + bias
    probs = ops.softmax(scores, axis=-1)
    if dropout is not None:
        probs = dropout(probs)
    return ops.matmul(probs, value)
