"""GLM-6B (Du et al. 2022; the ChatGLM-6B architecture) in MindSpore, with ChatGLM-6B's parameter names.

What sets GLM apart from a LLaMA-style decoder:
- 2-D positions [B, 2, T]: every token has a token position and a block position. The context (everything
  before <sop>) counts 0, 1, ... with block position 0; from <sop> on, the token position stays at the
  [gMASK] (or [MASK]) token's and the block position counts 1, 2, ... The first half of every head is rotated
  by the token position, the second half by the block position.
- A prefix-LM mask: the context is seen in both directions, the generated part causally.
- Post-norm-style residuals scaled by alpha: x = LN(h); h = x * alpha + attention(x), and alike for the MLP.
- One fused query_key_value projection laid out per head (q, k, v of head 0, then of head 1, ...).

Rotary features are rotated in adjacent pairs (mf's fused kernel); convert.py permutes the query/key rows of
ChatGLM checkpoints (which rotate each half's two quarters against each other) into that layout and back.
"""
import math

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from mf.models import CausalLM, DecoderModel
from mf.nn import DotProductAttention, Dropout, Embedding, LayerNorm, Linear, Rotary, activation, merge_heads

from .configuration import GLMConfig


def glm_rotary_tables(config: GLMConfig):
    """cos and sin [seq_length + 1, head_dim / 4]: one table serves both halves of a head. ChatGLM-6B computes
    its inverse frequencies in float16 and uses them as float32: the same rounding keeps logits equal."""
    dim = config.head_dim // 2
    inv_freq = 1.0 / (config.rotary_base ** (np.arange(0, dim, 2).astype(np.float32) / dim))
    inv_freq = inv_freq.astype(np.float16).astype(np.float32)
    angles = np.outer(np.arange(config.seq_length + 1, dtype=np.float32), inv_freq).astype(np.float32)
    return np.cos(angles), np.sin(angles)


class GLMAttention(nn.Cell):
    def __init__(self, config: GLMConfig):
        super().__init__()
        self.num_heads, self.head_dim = config.num_heads, config.head_dim
        std = config.initializer_range
        self.query_key_value = Linear(config.hidden_size, 3 * config.hidden_size, init_std=std)
        self.dense = Linear(config.hidden_size, config.hidden_size, init_std=std)
        self.rotary = Rotary()
        self.attend = DotProductAttention(1.0 / math.sqrt(self.head_dim), Dropout(config.attention_dropout))

    def construct(self, x, cos, sin, bias, key_cache=None, value_cache=None, cache_index=None):
        batch, length, _ = x.shape
        qkv = self.query_key_value(x).reshape(batch, length, self.num_heads, 3 * self.head_dim)
        query, key, value = ops.split(qkv, self.head_dim, axis=-1)  # token-major [B, T, heads, head_dim]
        if key_cache is None:
            cos_t = cos.reshape(batch, length, 1, cos.shape[-1])
            sin_t = sin.reshape(batch, length, 1, sin.shape[-1])
            out = self.attend(self.rotary(query, cos_t, sin_t), self.rotary(key, cos_t, sin_t), value, bias)
            return self.dense(out)
        query = self.rotary(query.transpose(0, 2, 1, 3), cos, sin)
        key = self.rotary(key.transpose(0, 2, 1, 3), cos, sin)
        out = self.attend.cached(query, key, value.transpose(0, 2, 1, 3), key_cache, value_cache, cache_index, bias)
        return self.dense(merge_heads(out))


class GLMMLP(nn.Cell):
    def __init__(self, config: GLMConfig):
        super().__init__()
        std = config.initializer_range
        self.dense_h_to_4h = Linear(config.hidden_size, config.inner_hidden_size, init_std=std)
        self.dense_4h_to_h = Linear(config.inner_hidden_size, config.hidden_size, init_std=std)
        self.act = activation("gelu_new")  # GLM's GELU is the tanh approximation

    def construct(self, x):
        return self.dense_4h_to_h(self.act(self.dense_h_to_4h(x)))


class GLMBlock(nn.Cell):
    """x = LN1(h); h = x * alpha + attention(x); y = LN2(h); out = y * alpha + mlp(y)."""

    def __init__(self, config: GLMConfig):
        super().__init__()
        self.input_layernorm = LayerNorm(config.hidden_size, config.layernorm_epsilon)
        self.attention = GLMAttention(config)
        self.post_attention_layernorm = LayerNorm(config.hidden_size, config.layernorm_epsilon)
        self.mlp = GLMMLP(config)
        self.alpha = config.alpha

    def construct(self, h, *inputs):
        x = self.input_layernorm(h)
        h = x * self.alpha + self.attention(x, *inputs)
        y = self.post_attention_layernorm(h)
        return y * self.alpha + self.mlp(y)


def _first(hits, index, length):
    """Per row [B, 1]: the first index where hits [B, T] is true, or length where it never is."""
    return ops.where(hits, index, ops.full_like(index, length)).min(axis=1, keepdims=True)


class GLMModel(DecoderModel):
    """The GLM transformer without a head: hidden states [B, T, hidden]."""

    blocks_attr, norm_attr, embedding_attr = "layers", "final_layernorm", "word_embeddings"

    def __init__(self, config: GLMConfig):
        super().__init__(config)
        self.word_embeddings = Embedding(config.vocab_size, config.hidden_size, init_std=config.initializer_range)
        self.layers = nn.CellList([GLMBlock(config) for _ in range(config.num_layers)])
        self.final_layernorm = LayerNorm(config.hidden_size, config.layernorm_epsilon)
        cos, sin = glm_rotary_tables(config)
        self.rotary_cos, self.rotary_sin = ms.Tensor(cos), ms.Tensor(sin)
        self.sop_id, self.mask_id, self.gmask_id = config.bos_token_id, config.mask_token_id, config.gmask_token_id

    def embed(self, input_ids, position_ids):
        return self.word_embeddings(input_ids)

    def block_inputs(self, position_ids):
        """position_ids [B, 2, T] -> cos, sin [B, 1, T, head_dim / 2]: token-position angles for the first
        half of each head's rotary pairs, block-position angles for the second."""
        tokens, blocks = position_ids[:, 0], position_ids[:, 1]
        cos = ops.concat([ops.gather(self.rotary_cos, tokens, 0), ops.gather(self.rotary_cos, blocks, 0)], -1)
        sin = ops.concat([ops.gather(self.rotary_sin, tokens, 0), ops.gather(self.rotary_sin, blocks, 0)], -1)
        return cos.expand_dims(1), sin.expand_dims(1)

    def context_length(self, input_ids):
        """[B, 1]: where <sop> is in each row (T when it is absent)."""
        length = input_ids.shape[1]
        index = ops.arange(0, length, dtype=ms.int32).reshape(1, length)
        return _first(input_ids == self.sop_id, index, length)

    def default_positions(self, input_ids):
        """GLM's 2-D positions of unpadded rows, computed from the tokens (as ChatGLM's get_position_ids): a row
        without <sop> is plain text (0, 1, ... and block 0)."""
        length = input_ids.shape[1]
        index = ops.arange(0, length, dtype=ms.int32).reshape(1, length)
        context = _first(input_ids == self.sop_id, index, length)
        gmask = _first(input_ids == self.gmask_id, index, length)
        mask = _first(input_ids == self.mask_id, index, length)
        mask_at = ops.where(gmask < length, gmask, mask)  # [gMASK] wins when a row has both, as in ChatGLM
        after = index >= context
        tokens = ops.where(ops.logical_and(after, mask_at < length), mask_at.broadcast_to(after.shape),
                           index.broadcast_to(after.shape))
        blocks = ops.where(after, index - context + 1, ops.zeros_like(after.astype(ms.int32)))
        return ops.stack([tokens, blocks], axis=1)

    def attention_bias(self, input_ids, attention_mask, cache_index=None):
        """Core's causal (+ padding) mask, with the context before <sop> visible to every token."""
        bias = super().attention_bias(input_ids, attention_mask, cache_index)
        length = input_ids.shape[1]
        context = self.context_length(input_ids)
        context = ops.where(context < length, context, ops.zeros_like(context))  # no <sop>: plain causal
        keys = bias.shape[-1]
        slots = ops.arange(0, keys, dtype=ms.int32).reshape(1, keys)
        if cache_index is not None:
            context = context + cache_index
        prefix = (slots < context).astype(ms.float32)                       # [B, L]
        if attention_mask is not None:
            prefix = prefix * attention_mask.astype(ms.float32)            # padding stays hidden
        return bias * (1.0 - prefix.reshape(prefix.shape[0], 1, 1, keys))


def glm_positions(ids: np.ndarray, mask: np.ndarray, config: GLMConfig) -> np.ndarray:
    """The 2-D positions [B, 2, T] of left-padded prompts (host side, for generation): computed over each row's
    real tokens, as ChatGLM's tokenizer does before it pads."""
    batch, length = ids.shape
    out = np.zeros((batch, 2, length), np.int64)
    for row in range(batch):
        real = np.flatnonzero(mask[row])
        tokens = ids[row, real].tolist()
        count = len(tokens)
        positions = np.arange(count)
        blocks = np.zeros(count, np.int64)
        if config.bos_token_id in tokens:
            context = tokens.index(config.bos_token_id)
            marker = config.gmask_token_id if config.gmask_token_id in tokens else config.mask_token_id
            if marker in tokens:
                positions[context:] = tokens.index(marker)
            blocks[context:] = np.arange(1, count - context + 1)
        out[row, 0, real], out[row, 1, real] = positions, blocks
    return out


class GLMForCausalLM(CausalLM):
    """GLM with its language-model head; returns logits, or (loss, logits) when labels are given."""

    config_class = GLMConfig
    backbone_class = GLMModel
    base_model_prefix = "transformer"

    def generation_positions(self, ids, mask):
        return glm_positions(ids, mask, self.config)

    def next_generation_positions(self, last):
        """After <sop> the token position stays and the block position grows; plain text counts on."""
        tokens, blocks = last[:, 0], last[:, 1]
        generating = blocks > 0
        return np.stack([np.where(generating, tokens, tokens + 1), np.where(generating, blocks + 1, 0)], axis=1)

    def chat(self, tokenizer, query, history=None, **kwargs):
        from .chat import chat

        return chat(self, tokenizer, query, history, **kwargs)

    def stream_chat(self, tokenizer, query, history=None, **kwargs):
        from .chat import stream_chat

        return stream_chat(self, tokenizer, query, history, **kwargs)
