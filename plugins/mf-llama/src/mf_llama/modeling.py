"""LLaMA (Touvron et al. 2023) in MindSpore, with MindFormers' parameter names.

Rotary embeddings pair adjacent features, as Meta's and MindFormers' checkpoints do;
convert.py permutes the query/key rows of Hugging Face checkpoints into that layout.
"""
import numpy as np
import mindspore as ms
from mindspore import nn, ops

from mf.generation import GenerationMixin
from mf.modeling import PreTrainedModel
from mf.nn import (CausalLMLoss, DotProductAttention, Rotary, Identity, WeightMatMul, Dropout, Embedding, Linear, RMSNorm, SwiGLU, cache_mask_bias,
                   causal_mask_bias, kv_cache_shape, merge_heads, padding_mask_bias,
                   rotary_tables, split_heads, write_cache)

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

    def construct(self, x, cos, sin, bias, key_cache=None, value_cache=None, cache_index=None):
        if key_cache is None:
            # token-major [B, T, heads, d]: cos/sin [B, 1, T, d/2] become [B, T, 1, d/2] by a reshape
            batch, length, _ = x.shape
            cos_t = cos.reshape(cos.shape[0], length, 1, cos.shape[-1])
            sin_t = sin.reshape(sin.shape[0], length, 1, sin.shape[-1])
            query = self.rotary(self.wq(x).reshape(batch, length, self.num_heads, self.head_dim), cos_t, sin_t)
            key = self.rotary(self.wk(x).reshape(batch, length, self.kv_heads, self.head_dim), cos_t, sin_t)
            value = self.wv(x).reshape(batch, length, self.kv_heads, self.head_dim)
            return self.wo(self.attend(query, key, value, bias))
        query = self.rotary(split_heads(self.wq(x), self.num_heads), cos, sin)
        key = write_cache(key_cache, self.rotary(split_heads(self.wk(x), self.kv_heads), cos, sin), cache_index)
        value = write_cache(value_cache, split_heads(self.wv(x), self.kv_heads), cache_index)
        out = self.attend.heads_major(query, key, value, bias)
        return self.wo(merge_heads(out))


class LlamaFeedForward(nn.Cell):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        std = config.initializer_range
        self.w1 = Linear(config.hidden_size, config.intermediate_size, bias=False, init_std=std)  # gate
        self.w2 = Linear(config.intermediate_size, config.hidden_size, bias=False, init_std=std)  # down
        self.w3 = Linear(config.hidden_size, config.intermediate_size, bias=False, init_std=std)  # up
        self.swiglu = SwiGLU()

    def construct(self, x):
        return self.w2(self.swiglu(self.w1(x), self.w3(x)))


class LlamaDecoderLayer(nn.Cell):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.attention_norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.attention = LlamaAttention(config)
        self.ffn_norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.feed_forward = LlamaFeedForward(config)

    def construct(self, x, cos, sin, bias, key_cache=None, value_cache=None, cache_index=None):
        x = x + self.attention(self.attention_norm(x), cos, sin, bias, key_cache, value_cache, cache_index)
        return x + self.feed_forward(self.ffn_norm(x))


class LlamaPreTrainedModel(PreTrainedModel):
    config_class = LlamaConfig
    base_model_prefix = "model"


class LlamaModel(LlamaPreTrainedModel):
    """The LLaMA decoder without a head: hidden states [B, T, hidden]."""

    def __init__(self, config: LlamaConfig):
        super().__init__(config)
        self.tok_embeddings = Embedding(config.vocab_size, config.hidden_size, init_std=config.initializer_range)
        self.layers = nn.CellList([LlamaDecoderLayer(config) for _ in range(config.num_layers)])
        self.norm_out = RMSNorm(config.hidden_size, config.rms_norm_eps)
        cos, sin = rotary_tables(config.attention_head_dim, config.seq_length, config.rope_theta, config.rope_scaling)
        self.rotary_cos, self.rotary_sin = ms.Tensor(cos), ms.Tensor(sin)
        self.causal_bias = causal_mask_bias(config.seq_length)

    def construct(self, input_ids, attention_mask=None, position_ids=None, kv_cache=None, cache_index=None):
        """kv_cache: None, or (key_0, value_0, key_1, ...) cache Parameters written at slots
        cache_index..; attention_mask then covers every cache slot."""
        batch, length = input_ids.shape
        if position_ids is None:
            position_ids = ops.arange(0, length, dtype=ms.int32).reshape(1, length)
        cos = ops.gather(self.rotary_cos, position_ids, 0).expand_dims(1)  # [b, 1, T, head_dim / 2]
        sin = ops.gather(self.rotary_sin, position_ids, 0).expand_dims(1)
        x = self.tok_embeddings(input_ids)
        if kv_cache is None:
            bias = self.causal_bias[:, :, :length, :length]
            if attention_mask is not None:
                bias = bias + padding_mask_bias(attention_mask)
            for layer in self.layers:
                x = layer(x, cos, sin, bias)
        else:
            bias = cache_mask_bias(attention_mask, cache_index, length)
            for i, layer in enumerate(self.layers):
                x = layer(x, cos, sin, bias, kv_cache[2 * i], kv_cache[2 * i + 1], cache_index)
        return self.norm_out(x)

    def kv_cache_shapes(self, batch_size, max_length):
        config = self.config
        shape = kv_cache_shape(batch_size, config.kv_heads, max_length, config.attention_head_dim)
        return [shape] * (2 * config.num_layers)


class LlamaForCausalLM(LlamaPreTrainedModel, GenerationMixin):
    """LLaMA with its language-model head; returns logits, or (loss, logits) when labels are given."""

    def __init__(self, config: LlamaConfig):
        super().__init__(config)
        self.model = LlamaModel(config)
        self.tied = config.tie_word_embeddings
        if not self.tied:
            self.lm_head = Linear(config.hidden_size, config.vocab_size, bias=False, init_std=config.initializer_range)
        self.logits_matmul = WeightMatMul()
        self.loss = CausalLMLoss()
        # where tensor parallelism sums the head's input gradient and gathers vocabulary-split logits
        self.lm_input = Identity()
        self.lm_output = Identity()

    def construct(self, input_ids, attention_mask=None, position_ids=None, labels=None, kv_cache=None,
                  cache_index=None, last_token_only=False):
        hidden = self.model(input_ids, attention_mask, position_ids, kv_cache, cache_index)
        if last_token_only:
            hidden = hidden[:, -1:, :]
        logits = self.logits(hidden)
        if labels is None:
            return logits
        return self.loss(logits, labels), logits

    def logits(self, hidden):
        batch, length, width = hidden.shape
        weight = self.model.tok_embeddings.weight if self.tied else self.lm_head.weight
        logits = self.logits_matmul(self.lm_input(hidden).reshape(-1, width), weight)
        return self.lm_output(logits).reshape(batch, length, -1)

    # ---- pipeline stages (mf.parallel.pipeline): embedding, blocks, head ------------------
    def stage_embed(self, input_ids):
        return self.model.tok_embeddings(input_ids)

    def stage_layer_inputs(self, input_ids):
        length = input_ids.shape[1]
        positions = ops.arange(0, length, dtype=ms.int32).reshape(1, length)
        cos = ops.gather(self.model.rotary_cos, positions, 0).expand_dims(1)
        sin = ops.gather(self.model.rotary_sin, positions, 0).expand_dims(1)
        return cos, sin, self.model.causal_bias[:, :, :length, :length]

    def stage_layers(self):
        return self.model.layers

    def stage_head(self, hidden):
        return self.logits(self.model.norm_out(hidden))

    def stage_cells(self, first, last):
        """The layers besides the blocks that the first and/or last pipeline stage computes with."""
        cells = [self.model.tok_embeddings] if first else []
        if last:
            cells += [self.model.norm_out, self.model.tok_embeddings if self.tied else self.lm_head]
        return cells

    def tied_parameters(self):
        """Names of parameters that the first and the last pipeline stage both use."""
        return ["model.tok_embeddings.weight"] if self.tied else []

    def kv_cache_shapes(self, batch_size, max_length):
        return self.model.kv_cache_shapes(batch_size, max_length)
