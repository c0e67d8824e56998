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
        return self.w2(self.swiglu(self.w1(x), self.w3(x)))

    def decodes_fused(self, x):
        """Whether x (a decoded token's few rows) takes the one-kernel path, decode_with_residual."""
        return not self.training and self.decode.fits(x, self.w1, self.w3, self.w2)

    def decode_with_residual(self, x, norm):
        """x + self(norm(x)) for a decoded token: the RMSNorm, gate, up, silu * up, down and the residual add in
        one kernel."""
        return self.decode(x, self.w1.weight, getattr(self.w1, "weight_scale", None), self.w3.weight,
                           getattr(self.w3, "weight_scale", None), self.w2.weight,
                           getattr(self.w2, "weight_scale", None), self.w1.int8_activations, norm.weight, norm.eps)


class LlamaDecoderLayer(PreNormBlock):
    sublayers = ("attention_norm", "attention", "ffn_norm", "feed_forward")

    def __init__(self, config: LlamaConfig):
        super().__init__(RMSNorm(config.hidden_size, config.rms_norm_eps), LlamaAttention(config),
                         RMSNorm(config.hidden_size, config.rms_norm_eps), LlamaFeedForward(config))

    def construct(self, x, cos, sin, bias, key_cache=None, value_cache=None, cache_index=None):
        x = x + self.attention(self.attention_norm(x), cos, sin, bias, key_cache, value_cache, cache_index)
        if self.feed_forward.decodes_fused(x):
            # a decoded token's second half (norm, feed-forward, residual add) in one kernel: four launches a
            # layer instead of six, at ~20 us each in MindSpore's runtime. The first half stays three launches:
            # with both fused, a 30-layer step has under 100 kernels, which MindSpore's runtime runs in the
            # calling thread on a 2-core machine; mf's OpenMP kernels then have a second thread team besides
            # the one that ran the prompt, libgomp (more OpenMP threads than cores) stops spinning between
            # parallel regions, and every region wakes a sleeping thread: SmolLM2-135M's int8 step at batch 8
            # took ~30 ms so, ~20 ms with the attention half unfused (README, "Speed on CPU").
            return self.feed_forward.decode_with_residual(x, self.ffn_norm)
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
