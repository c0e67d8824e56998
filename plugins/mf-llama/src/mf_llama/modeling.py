"""LLaMA (Touvron et al. 2023) in MindSpore, with MindFormers' parameter names.

Rotary embeddings pair adjacent features, as Meta's and MindFormers' checkpoints do;
convert.py permutes the query/key rows of Hugging Face checkpoints into that layout.
"""
import numpy as np
import mindspore as ms
from mindspore import nn, ops

from mf.models import CausalLM, DecoderModel, PreNormBlock
from mf.nn import DecodeGatedFeedForward, DotProductAttention, Dropout, Embedding, Linear, RMSNorm, Rotary, \
    RotaryDecodeAttention, SwiGLU, rotary_tables

from .configuration import LlamaConfig


class LlamaAttention(nn.Cell):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.num_heads, self.kv_heads = config.num_heads, config.kv_heads
        self.head_dim = config.attention_head_dim
        std = config.initializer_range
        bias = config.attention_bias
        self.wq = Linear(config.hidden_size, self.num_heads * self.head_dim, bias=bias, init_std=std)
        self.wk = Linear(config.hidden_size, self.kv_heads * self.head_dim, bias=bias, init_std=std)
        self.wv = Linear(config.hidden_size, self.kv_heads * self.head_dim, bias=bias, init_std=std)
        self.wo = Linear(self.num_heads * self.head_dim, config.hidden_size, bias=bias, init_std=std)
        self.rotary = Rotary()
        self.attend = DotProductAttention(1.0 / float(np.sqrt(self.head_dim)), Dropout(config.attention_dropout))
        self.decode = RotaryDecodeAttention(1.0 / float(np.sqrt(self.head_dim)))

    def construct(self, x, cos, sin, bias, key_cache=None, value_cache=None, cache_index=None):
        if key_cache is None:
            return self.wo(self.attend(*self.rotated_heads(x, cos, sin), bias))
        if x.shape[1] == 1 and not self.training and self.decode.fits(self.wq, self.wk, self.wv, self.wo):
            # one decoded token: products, rotations, cache writes, attention and output in one kernel
            return self.decode(x, self.wq.weight, getattr(self.wq, "weight_scale", None), self.wk.weight,
                               getattr(self.wk, "weight_scale", None), self.wv.weight,
                               getattr(self.wv, "weight_scale", None), self.wo.weight,
                               getattr(self.wo, "weight_scale", None), self.wq.int8_activations, cos, sin,
                               key_cache, value_cache, cache_index, bias)
        query, key, value = self.rotated_heads(x, cos, sin)
        return self.wo(self.attend.cached_tokens(query, key, value, key_cache, value_cache, cache_index, bias))

    def rotated_heads(self, x, cos, sin):
        """Token-major query [B, T, heads, d] and key [B, T, kv_heads, d] rotated by position, and value; cos/sin
        [B, 1, T, d/2] become [B, T, 1, d/2] by a reshape."""
        batch, length, _ = x.shape
        cos_t = cos.reshape(cos.shape[0], length, 1, cos.shape[-1])
        sin_t = sin.reshape(sin.shape[0], length, 1, sin.shape[-1])
        query = self.rotary(self.wq(x).reshape(batch, length, self.num_heads, self.head_dim), cos_t, sin_t)
        key = self.rotary(self.wk(x).reshape(batch, length, self.kv_heads, self.head_dim), cos_t, sin_t)
        return query, key, self.wv(x).reshape(batch, length, self.kv_heads, self.head_dim)


class LlamaFeedForward(nn.Cell):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        std = config.initializer_range
        self.w1 = Linear(config.hidden_size, config.intermediate_size, bias=False, init_std=std)  # gate
        self.w2 = Linear(config.intermediate_size, config.hidden_size, bias=False, init_std=std)  # down
        self.w3 = Linear(config.hidden_size, config.intermediate_size, bias=False, init_std=std)  # up
        self.swiglu = SwiGLU()
        self.decode = DecodeGatedFeedForward()

    def construct(self, x):
        if self.decodes_fused(x):
            return self.fused(x)  # a decoded token: gate, up, silu * up and down in one kernel
        return self.w2(self.swiglu(self.w1(x), self.w3(x)))

    def decodes_fused(self, x):
        """Whether x (a decoded token's few rows) takes the fused kernels."""
        return not self.training and self.decode.fits(x, self.w1, self.w3, self.w2)

    def fused(self, x, norm_weight=None, norm_eps=None):
        """The feed-forward of x in one kernel; given an RMSNorm's weight and eps, x + the feed-forward of
        rms_norm(x) (the norm and the residual add in the same kernel)."""
        return self.decode(x, self.w1.weight, getattr(self.w1, "weight_scale", None), self.w3.weight,
                           getattr(self.w3, "weight_scale", None), self.w2.weight,
                           getattr(self.w2, "weight_scale", None), self.w1.int8_activations, norm_weight, norm_eps)


# A decoded token's feed-forward takes its RMSNorm and residual add into its fused kernel (four launches a layer
# instead of six, ~20 us each in MindSpore's runtime) in models of at least this many layers. MindSpore's runtime
# runs a graph of at most 100 kernels in the calling thread when it has a single actor thread (2 cores). mf's
# OpenMP kernels then run on a second thread team besides the one that ran the prompt on MindSpore's actor
# thread, and libgomp, with more OpenMP threads than cores, stops spinning between parallel regions: every region
# wakes a sleeping thread. A step fused below that line gets slower (16 layers at batch 8: 13 -> 19 ms a step); at
# 24 layers and more it keeps over 100 kernels (about 20 outside the layers) and gains (SmolLM2-135M, 30 layers:
# README, "Speed on CPU"). For the same reason the attention's half stays three launches: with both halves fused
# SmolLM2's step has 75 kernels and took ~30 ms, against ~20 ms so.
FUSED_NORM_MIN_LAYERS = 24


class LlamaDecoderLayer(PreNormBlock):
    sublayers = ("attention_norm", "attention", "ffn_norm", "feed_forward")

    def __init__(self, config: LlamaConfig):
        super().__init__(RMSNorm(config.hidden_size, config.rms_norm_eps), LlamaAttention(config),
                         RMSNorm(config.hidden_size, config.rms_norm_eps), LlamaFeedForward(config))
        self.fuses_ffn_norm = config.num_layers >= FUSED_NORM_MIN_LAYERS

    def construct(self, x, cos, sin, bias, key_cache=None, value_cache=None, cache_index=None):
        x = x + self.attention(self.attention_norm(x), cos, sin, bias, key_cache, value_cache, cache_index)
        if self.fuses_ffn_norm and self.feed_forward.decodes_fused(x):
            # a decoded token's second half (norm, feed-forward, residual add) in one kernel
            return self.feed_forward.fused(x, self.ffn_norm.weight, self.ffn_norm.eps)
        return x + self.feed_forward(self.ffn_norm(x))


class LlamaModel(DecoderModel):
    """The LLaMA decoder without a head: hidden states [B, T, hidden]."""

    blocks_attr, norm_attr, embedding_attr = "layers", "norm_out", "tok_embeddings"

    def __init__(self, config: LlamaConfig):
        super().__init__(config)
        self.tok_embeddings = Embedding(config.vocab_size, config.hidden_size, init_std=config.initializer_range)
        self.layers = nn.CellList([LlamaDecoderLayer(config) for _ in range(config.num_layers)])
        self.norm_out = RMSNorm(config.hidden_size, config.rms_norm_eps)
        cos, sin = rotary_tables(config.attention_head_dim, config.seq_length, config.rope_theta, config.rope_scaling)
        self.rotary_cos, self.rotary_sin = ms.Tensor(cos), ms.Tensor(sin)

    def embed(self, input_ids, position_ids):
        return self.tok_embeddings(input_ids)

    def block_inputs(self, position_ids):
        cos = ops.gather(self.rotary_cos, position_ids, 0).expand_dims(1)  # [b, 1, T, head_dim / 2]
        sin = ops.gather(self.rotary_sin, position_ids, 0).expand_dims(1)
        return cos, sin


class LlamaForCausalLM(CausalLM):
    """LLaMA with its language-model head; returns logits, or (loss, logits) when labels are given."""

    config_class = LlamaConfig
    backbone_class = LlamaModel
    base_model_prefix = "model"
