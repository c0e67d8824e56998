"""Attention helpers: additive mask biases and scaled dot-product attention."""
import numpy as np
import mindspore as ms
from mindspore import nn, ops

from .. import kernels

# Large enough to zero a softmax term, small enough not to overflow when added twice.
MASK_VALUE = -1e9


def causal_mask_bias(length):
    """[1, 1, L, L] bias: 0 where query i may see key j (j <= i), MASK_VALUE elsewhere.

    Built once per model on the host; forward passes slice it, which graph mode compiles statically.
    """
    # filled row by row and handed over without a copy: np.where over a boolean triangle and a float64
    # intermediate took 2.4 s (and twice the memory) for an 8192-position model
    bias = np.full((length, length), MASK_VALUE, dtype=np.float32)
    for row in range(length):
        bias[row, :row + 1] = 0.0
    return ms.Tensor.from_numpy(bias[None, None])


def padding_mask_bias(attention_mask):
    """[B, 1, 1, k] bias from a [B, k] 0/1 mask: MASK_VALUE where the mask is 0."""
    mask = attention_mask.astype(ms.float32)
    return ((1.0 - mask) * MASK_VALUE).reshape(mask.shape[0], 1, 1, mask.shape[1])


def scaled_dot_product_attention(query, key, value, bias, scale, dropout=None):
    """softmax(q k^T * scale + bias) v for [B, heads, T, head_dim] tensors."""
    scores = _matmul_transpose_b(query, key) * scale + bias
    probs = ops.softmax(scores, axis=-1)
    if dropout is not None:
        probs = dropout(probs)
    return ops.matmul(probs, value)


# BatchMatMul reads key transposed in place; key.swapaxes() would copy the whole cache each step
_matmul_transpose_b = ops.BatchMatMul(transpose_b=True)


def kv_cache_shape(batch_size, heads, max_length, head_dim):
    """Shape of one key or value cache: rows of head_dim, one per (batch, head, slot).

    Rows along axis 0 let write_cache use ScatterUpdate, which MindSpore's CPU
    backend runs in place (ScatterNdUpdate on a 4-D cache copies it).
    """
    return (batch_size * heads * max_length, head_dim)


def write_cache(cache, new, index):
    """Write new [B, heads, T, head_dim] into cache slots index..index+T-1, in place;
    returns the whole cache viewed as [B, heads, L, head_dim]."""
    batch, heads, length, head_dim = new.shape
    slots = cache.shape[0] // (batch * heads)
    first_rows = (ops.arange(0, batch * heads, dtype=ms.int32) * slots + index).reshape(batch * heads, 1)
    rows = first_rows + ops.arange(0, length, dtype=ms.int32).reshape(1, length)
    ops.scatter_update(cache, rows, new.reshape(batch * heads, length, head_dim))
    return cache.reshape(batch, heads, slots, head_dim)


def split_heads(x, heads):
    """[B, T, heads * head_dim] -> [B, heads, T, head_dim] (a free reshape when T == 1)."""
    batch, length, width = x.shape
    if length == 1:
        return x.reshape(batch, heads, 1, width // heads)
    return x.reshape(batch, length, heads, width // heads).transpose(0, 2, 1, 3)


def heads_first(x):
    """[B, T, heads, head_dim] -> [B, heads, T, head_dim] (a free reshape when T == 1)."""
    batch, length, heads, head_dim = x.shape
    if length == 1:
        return x.reshape(batch, heads, 1, head_dim)
    return x.transpose(0, 2, 1, 3)


def merge_heads(x):
    """[B, heads, T, head_dim] -> [B, T, heads * head_dim]."""
    batch, heads, length, head_dim = x.shape
    if length == 1:
        return x.reshape(batch, 1, heads * head_dim)
    return x.transpose(0, 2, 1, 3).reshape(batch, length, heads * head_dim)


def cache_mask_bias(slot_mask, index, query_length):
    """[B, 1, T, L] bias for T queries at cache slots index.. over a cache of L slots.

    slot_mask [B, L] is 1 for slots that hold (or will hold) real tokens, 0 for padding;
    a query sees the valid slots up to and including its own.
    """
    cache_length = slot_mask.shape[1]
    slots = ops.arange(0, cache_length, dtype=ms.int32).reshape(1, cache_length)
    queries = (ops.arange(0, query_length, dtype=ms.int32) + index).reshape(query_length, 1)
    causal = (slots <= queries).astype(ms.float32)                      # [T, L]
    visible = causal.reshape(1, 1, query_length, cache_length) * slot_mask.astype(ms.float32).reshape(
        slot_mask.shape[0], 1, 1, cache_length)
    return (1.0 - visible) * MASK_VALUE


def rotary_tables(head_dim, max_positions, theta=10000.0, scaling=None):
    """cos and sin [max_positions, head_dim // 2] of rotary position embeddings, as float32 numpy.

    scaling: None, {"rope_type": "linear", "factor": f} (positions divided by f) or
    {"rope_type": "llama3", "factor", "low_freq_factor", "high_freq_factor",
    "original_max_position_embeddings"} (Llama 3.1's frequency-dependent stretch).
    """
    inv_freq = 1.0 / (theta ** (np.arange(0, head_dim, 2, dtype=np.int64).astype(np.float32) / head_dim))
    positions = np.arange(max_positions, dtype=np.float32)
    kind = (scaling or {}).get("rope_type", (scaling or {}).get("type", "default"))
    if kind == "linear":
        positions = positions / float(scaling["factor"])
    elif kind == "llama3":
        factor = float(scaling["factor"])
        low, high = float(scaling.get("low_freq_factor", 1.0)), float(scaling.get("high_freq_factor", 4.0))
        original = float(scaling["original_max_position_embeddings"])
        wavelength = 2 * np.pi / inv_freq
        smooth = (original / wavelength - low) / (high - low)
        scaled = np.where(wavelength > original / low, inv_freq / factor, inv_freq)
        medium = (wavelength <= original / low) & (wavelength >= original / high)
        inv_freq = np.where(medium, (1 - smooth) * inv_freq / factor + smooth * inv_freq, scaled).astype(np.float32)
    elif kind != "default":
        raise ValueError(f"rope scaling type '{kind}' is not supported; mf has linear and llama3")
    angles = np.outer(positions, inv_freq).astype(np.float32)
    return np.cos(angles), np.sin(angles)


def apply_rotary(x, cos, sin):
    """Rotate [B, heads, T, head_dim] by position, pairing adjacent features (Meta's LLaMA layout).

    cos, sin: [B, 1, T, head_dim // 2]; or x token-major [B, T, heads, head_dim] with cos, sin
    [B, T, 1, head_dim // 2].
    """
    batch, heads, length, head_dim = x.shape
    pairs = x.reshape(batch, heads, length, head_dim // 2, 2)
    even, odd = pairs[..., 0], pairs[..., 1]
    rotated = ops.stack([even * cos - odd * sin, even * sin + odd * cos], -1)
    return rotated.reshape(batch, heads, length, head_dim)


def grouped_query_attention(query, key, value, bias, scale, dropout=None):
    """Attention with fewer key/value heads than query heads (GQA), without copying keys.

    query [B, heads, T, d]; key, value [B, kv_heads, L, d]; bias [b, 1, T, L] or per head [b, heads, T, L].
    The query heads that share a key/value head are folded into its query axis.
    """
    batch, heads, length, head_dim = query.shape
    kv_heads = key.shape[1]
    if kv_heads == heads:
        return scaled_dot_product_attention(query, key, value, bias, scale, dropout)
    repeat = heads // kv_heads
    keys = key.shape[2]
    folded = query.reshape(batch, kv_heads, repeat * length, head_dim)
    # one bias row for all queries (a padding mask [b, 1 or heads, 1, L]): each query's row of it, to fold
    bias = ops.broadcast_to(bias, (bias.shape[0], bias.shape[1], length, keys))
    if bias.shape[1] == heads:  # head h = g * repeat + r folds into group g's rows like its queries
        bias = bias.reshape(bias.shape[0], kv_heads, repeat * length, keys)
    else:
        bias = bias.reshape(bias.shape[0], 1, 1, length, keys).broadcast_to(
            (bias.shape[0], 1, repeat, length, keys)).reshape(bias.shape[0], 1, repeat * length, keys)
    out = scaled_dot_product_attention(folded, key, value, bias, scale, dropout)
    return out.reshape(batch, heads, length, head_dim)


class DotProductAttention(nn.Cell):
    """softmax(q k^T * scale + bias) v with dropout on the probabilities, on token-major tensors as
    the projections produce them: query [B, T, heads, d], key and value [B, L, kv_heads, d]
    (grouped-query attention when kv_heads < heads); returns [B, T, heads * d]. bias is
    [B or 1, 1, T, L], or [B or 1, heads, T, L] for a per-head bias.

    Uses mf's fused kernel for T > 1 when kernels are available and no dropout is active: it reads
    the token-major layout directly and keeps nothing [B, heads, T, L]-sized for the backward pass,
    which recomputes the probabilities. MindSpore's own ops keep about a dozen such tensors per
    layer alive, and the head transposes they need stop MindSpore's recompute pass from freeing a
    block's activations. A per-head bias takes the kernels in inference only: their backward gives the
    bias no gradient, which T5's learned relative positions need in training."""

    def __init__(self, scale: float, dropout):
        super().__init__()
        self.scale = scale
        self.scale_tensor = ms.Tensor(np.array([scale], np.float32))
        self.dropout = dropout
        self.fused = kernels.op("attention")
        self.fused_packed = kernels.op("packed_attention")
        self.decode = kernels.op("decode_attention")
        self.fused_over_cache = kernels.op("cached_attention")
        self.prefill = kernels.op("prefill_attention")

    def kernel_takes(self, bias, heads) -> bool:
        """Whether mf's attention kernels can take this bias: one for all heads, or (not training) one per head."""
        return bias.shape[1] == 1 or (not self.training and bias.shape[1] == heads)

    def construct(self, query, key, value, bias):
        batch, length, heads, head_dim = query.shape
        fusable = self.fused is not None and length > 1 and self.kernel_takes(bias, heads)
        if fusable and not (self.training and self.dropout.p > 0):
            out = self.fused(query, key, value, bias, self.scale_tensor)
            return out.reshape(batch, length, heads * head_dim)
        out = grouped_query_attention(query.transpose(0, 2, 1, 3), key.transpose(0, 2, 1, 3),
                                      value.transpose(0, 2, 1, 3), bias, self.scale, self.dropout)
        return merge_heads(out)

    def packed(self, qkv, bias):
        """construct() on query, key and value packed in one tensor [B, T, 3, heads, d], as a fused q/k/v
        projection produces them: the fused kernel reads them in place and its backward writes their gradient as
        one tensor (no split before, no concatenation after); returns [B, T, heads * d]."""
        batch, length, _, heads, head_dim = qkv.shape
        fusable = self.fused_packed is not None and length > 1 and self.kernel_takes(bias, heads)
        if fusable and not (self.training and self.dropout.p > 0):
            return self.fused_packed(qkv, bias, self.scale_tensor).reshape(batch, length, heads * head_dim)
        query, key, value = ops.unstack(qkv, axis=2)
        return self.construct(query, key, value, bias)

    def heads_major(self, query, key, value, bias):
        """The unfused attention on [B, heads, T, d] tensors (the key/value cache's layout)."""
        return grouped_query_attention(query, key, value, bias, self.scale, self.dropout)

    def cached(self, query, key, value, key_cache, value_cache, cache_index, bias):
        """Store key, value [B, kv_heads, T, d] in the caches (kv_cache_shape) at slots cache_index.. and
        attend query [B, heads, T, d] over the whole cache with bias [B or 1, 1 or heads, T, L]; returns
        [B, heads, T, d]. One decoded token (T == 1, not training) takes mf's fused kernel: the cache writes
        and the attention in one launch instead of ~20, which is most of a decoded token's fixed cost. A
        prompt (T > 1) is written with ScatterUpdate, then attends over the cache in mf's attention kernel
        for heads-major tensors (no transposes, nothing [B, heads, T, L]-sized), where MindSpore's ops take
        a sixth of a small model's prefill."""
        if self.decode is not None and query.shape[2] == 1 and not self.training:
            return self.decode(query, key, value, key_cache, value_cache, cache_index, bias, self.scale_tensor)
        keys = write_cache(key_cache, key, cache_index)
        values = write_cache(value_cache, value, cache_index)
        if self.fused_over_cache is not None and not self.training and self.kernel_takes(bias, query.shape[1]):
            return self.fused_over_cache(query, keys, values, bias, self.scale_tensor)
        return self.heads_major(query, keys, values, bias)

    def cached_tokens(self, query, key, value, key_cache, value_cache, cache_index, bias):
        """cached() on token-major tensors, as the projections produce them: query [B, T, heads, d], key and
        value [B, T, kv_heads, d]; returns [B, T, heads * d]. A prompt (T > 1, not training, one bias for all
        heads) is written to the caches and attended in one kernel, without the head transposes and
        ScatterUpdates around cached()'s (~6% of SmolLM2-135M's prefill of one prompt)."""
        batch, length, heads, head_dim = query.shape
        if self.prefill is not None and length > 1 and not self.training and self.kernel_takes(bias, heads):
            out = self.prefill(query, key, value, key_cache, value_cache, cache_index, bias, self.scale_tensor)
            return out.reshape(batch, length, heads * head_dim)
        out = self.cached(heads_first(query), heads_first(key), heads_first(value), key_cache, value_cache,
                          cache_index, bias)
        return merge_heads(out)


class Rotary(nn.Cell):
    """apply_rotary as a Cell: mf's fused kernel when available (one pass, and nothing kept for the
    backward pass, which rotates the gradient back), else MindSpore's ops."""

    def __init__(self):
        super().__init__()
        self.fused = kernels.op("rotary")

    def construct(self, x, cos, sin):
        if self.fused is not None:
            return self.fused(x, cos, sin)
        return apply_rotary(x, cos, sin)


class RotaryDecodeAttention(nn.Cell):
    """One decoded token's attention for rotary families (LLaMA), from the hidden state x [B, 1, E] to the
    output projection's result [B, 1, E']: the q/k/v products, the rotation of q and k, the cache writes, the
    attention and the output product in one kernel (ProjectedDecodeAttention*), where the unfused step
    launches seven (each ~15-30 us in MindSpore's CPU runtime).

    The weights come as the Linear layers hold them: float32 with scales None, or int8 with their per-row
    scales (dynamic_int8: the layers' int8_activations). Only plain projections fit (fits()): kernels built,
    mf.nn.Linear layers without bias, not LoRA-adapted nor split by tensor parallelism."""

    def __init__(self, scale: float):
        super().__init__()
        self.scale_tensor = ms.Tensor(np.array([scale], np.float32))
        self.no_scale = ms.Tensor(np.ones(1, np.float32))  # what a float32 model passes for the scales
        self.float32 = kernels.op("projected_decode_attention")
        self.int8 = kernels.op("projected_decode_attention_int8")
        self.dynamic_int8 = kernels.op("projected_decode_attention_w8a8")

    def fits(self, wq, wk, wv, wo) -> bool:
        plain = wq.plain_product and wk.plain_product and wv.plain_product and wo.plain_product
        unbiased = wq.bias is None and wk.bias is None and wv.bias is None and wo.bias is None
        return self.float32 is not None and plain and unbiased

    def construct(self, x, wq, sq, wk, sk, wv, sv, wo, so, dynamic_int8, cos, sin, key_cache, value_cache,
                  cache_index, bias):
        if sq is None:
            none = self.no_scale
            return self.float32(x, wq, none, wk, none, wv, none, wo, none, cos, sin, key_cache, value_cache,
                                cache_index, bias, self.scale_tensor)
        kernel = self.dynamic_int8 if dynamic_int8 else self.int8
        return kernel(x, wq, sq, wk, sk, wv, sv, wo, so, cos, sin, key_cache, value_cache, cache_index, bias,
                      self.scale_tensor)
