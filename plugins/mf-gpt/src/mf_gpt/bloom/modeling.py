"""BLOOM (BigScience 2022) in MindSpore, with Hugging Face's parameter names.

What sets BLOOM apart from GPT-2:
- No position table: every head adds ALiBi's linear bias slope_h * (key position) to its scores (Press et
  al. 2022). Softmax ignores what is constant along a row, so this equals slope_h * (key - query) distance.
  A key's position counts real tokens only (a left-padded row starts at 0 on its first real token), and
  the bias covers every cache slot when decoding.
- A LayerNorm right after the token embedding (word_embeddings_layernorm).
- One fused query_key_value projection laid out per head (q, k, v of head 0, then of head 1, ...).
"""
import math

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from mf.models import CausalLM, DecoderModel
from mf.nn import DotProductAttention, Dropout, Embedding, LayerNorm, Linear, activation, merge_heads

from .configuration import BloomConfig


def alibi_slopes(num_heads: int) -> np.ndarray:
    """ALiBi's per-head slopes: a geometric series from 2^(-8/n) for the largest power of two n <= heads; the
    remaining heads take every other term of the series for 2n (so 6 heads get 4 + 2 interleaved slopes)."""
    closest = 2 ** int(math.floor(math.log2(num_heads)))
    base = 2.0 ** (-(2.0 ** -(math.log2(closest) - 3)))
    slopes = [base ** power for power in range(1, closest + 1)]
    if closest != num_heads:
        extra_base = 2.0 ** (-(2.0 ** -(math.log2(2 * closest) - 3)))
        remaining = min(closest, num_heads - closest)
        slopes += [extra_base ** power for power in range(1, 2 * remaining + 1, 2)]
    return np.array(slopes, np.float32)


class BloomAttention(nn.Cell):
    def __init__(self, config: BloomConfig):
        super().__init__()
        self.num_heads, self.head_dim = config.num_heads, config.head_dim
        std = config.initializer_range
        self.query_key_value = Linear(config.hidden_size, 3 * config.hidden_size, init_std=std)
        self.dense = Linear(config.hidden_size, config.hidden_size, init_std=std)
        self.attend = DotProductAttention(1.0 / math.sqrt(self.head_dim), Dropout(config.attention_dropout))

    def construct(self, x, bias, key_cache=None, value_cache=None, cache_index=None):
        batch, length, _ = x.shape
        qkv = self.query_key_value(x).reshape(batch, length, self.num_heads, 3 * self.head_dim)
        query, key, value = ops.split(qkv, self.head_dim, axis=-1)  # token-major [B, T, heads, head_dim]
        if key_cache is None:
            return self.dense(self.attend(query, key, value, bias))
        query = query.transpose(0, 2, 1, 3)
        out = self.attend.cached(query, key.transpose(0, 2, 1, 3), value.transpose(0, 2, 1, 3), key_cache,
                                 value_cache, cache_index, bias)
        return self.dense(merge_heads(out))


class BloomMLP(nn.Cell):
    def __init__(self, config: BloomConfig):
        super().__init__()
        std = config.initializer_range
        self.dense_h_to_4h = Linear(config.hidden_size, config.ffn_hidden_size, init_std=std)
        self.dense_4h_to_h = Linear(config.ffn_hidden_size, config.hidden_size, init_std=std)
        self.act = activation("gelu_new")  # BLOOM's bloom_gelu is the tanh approximation

    def construct(self, x):
        return self.dense_4h_to_h(self.act(self.dense_h_to_4h(x)))


class BloomBlock(nn.Cell):
    """Pre-norm residual block; with apply_residual_connection_post_layernorm the residual is the norm's
    output instead of its input."""

    def __init__(self, config: BloomConfig):
        super().__init__()
        self.input_layernorm = LayerNorm(config.hidden_size, config.layer_norm_epsilon)
        self.self_attention = BloomAttention(config)
        self.post_attention_layernorm = LayerNorm(config.hidden_size, config.layer_norm_epsilon)
        self.mlp = BloomMLP(config)
        self.dropout = Dropout(config.hidden_dropout)
        self.residual_from_norm = config.apply_residual_connection_post_layernorm

    def construct(self, h, *inputs):
        x = self.input_layernorm(h)
        h = (x if self.residual_from_norm else h) + self.dropout(self.self_attention(x, *inputs))
        y = self.post_attention_layernorm(h)
        return (y if self.residual_from_norm else h) + self.dropout(self.mlp(y))


class BloomModel(DecoderModel):
    """The BLOOM transformer without a head: hidden states [B, T, hidden]."""

    blocks_attr, norm_attr, embedding_attr = "h", "ln_f", "word_embeddings"

    def __init__(self, config: BloomConfig):
        super().__init__(config)
        self.word_embeddings = Embedding(config.vocab_size, config.hidden_size, init_std=config.initializer_range)
        self.word_embeddings_layernorm = LayerNorm(config.hidden_size, config.layer_norm_epsilon)
        self.h = nn.CellList([BloomBlock(config) for _ in range(config.num_layers)])
        self.ln_f = LayerNorm(config.hidden_size, config.layer_norm_epsilon)
        # one slope per head; tensor parallelism keeps each rank's heads' slopes (sharding plan head_tensors)
        self.alibi_slopes = ms.Tensor(alibi_slopes(config.num_heads))

    def embed(self, input_ids, position_ids):
        return self.word_embeddings_layernorm(self.word_embeddings(input_ids))

    def attention_bias(self, input_ids, attention_mask, cache_index=None):
        """Core's causal (+ padding) mask plus ALiBi: [B or 1, heads, T, L]. Key positions count the real tokens
        before each key (attention_mask covers every key: the T tokens, or every cache slot when decoding)."""
        bias = super().attention_bias(input_ids, attention_mask, cache_index)
        keys = bias.shape[-1]
        if attention_mask is None:
            positions = ops.arange(0, keys, dtype=ms.float32).reshape(1, keys)
        else:
            mask = attention_mask.astype(ms.float32)
            positions = (ops.cumsum(mask, axis=1) - 1.0) * mask
        slopes = self.alibi_slopes.reshape(1, -1, 1, 1)
        return bias + slopes * positions.reshape(positions.shape[0], 1, 1, keys)


class BloomForCausalLM(CausalLM):
    """BLOOM with its language-model head (tied to the embedding); returns logits, or (loss, logits)."""

    config_class = BloomConfig
    backbone_class = BloomModel
    base_model_prefix = "transformer"
