"""GPT-2 (Radford et al. 2019) in MindSpore, parameter names as in Hugging Face's GPT2LMHeadModel."""
import math

from mindspore import nn, ops

from mf.generation import GenerationMixin
from mf.modeling import PreTrainedModel
from mf.nn import (CausalLMLoss, DotProductAttention, Identity, WeightMatMul, Dropout, Embedding, LayerNorm, Linear, activation, cache_mask_bias,
                   causal_mask_bias, kv_cache_shape, merge_heads, padding_mask_bias,
                   split_heads, write_cache)

from .configuration import GPT2Config


class GPT2Attention(nn.Cell):
    def __init__(self, config: GPT2Config, layer_idx: int):
        super().__init__()
        self.num_heads = config.num_heads
        self.head_dim = config.hidden_size // config.num_heads
        self.hidden_size = config.hidden_size
        std = config.initializer_range
        self.c_attn = Linear(config.hidden_size, 3 * config.hidden_size, init_std=std)
        # GPT-2 scales the residual projections by 1/sqrt(2 * layers) at initialisation
        self.c_proj = Linear(config.hidden_size, config.hidden_size, init_std=std / math.sqrt(2 * config.num_layers))
        self.resid_dropout = Dropout(config.hidden_dropout)
        scale = 1.0 / math.sqrt(self.head_dim) if config.scale_attn_weights else 1.0
        if config.scale_attn_by_inverse_layer_idx:
            scale /= layer_idx + 1
        self.scale = scale
        self.attend = DotProductAttention(scale, Dropout(config.attention_dropout))

    def construct(self, x, bias, key_cache=None, value_cache=None, cache_index=None):
        query, key, value = ops.split(self.c_attn(x), self.hidden_size, axis=-1)
        if key_cache is None:
            batch, length, _ = x.shape
            heads, head_dim = self.num_heads, self.hidden_size // self.num_heads
            out = self.attend(query.reshape(batch, length, heads, head_dim), key.reshape(batch, length, heads, head_dim),
                              value.reshape(batch, length, heads, head_dim), bias)
            return self.resid_dropout(self.c_proj(out))
        query = split_heads(query, self.num_heads)
        key = write_cache(key_cache, split_heads(key, self.num_heads), cache_index)
        value = write_cache(value_cache, split_heads(value, self.num_heads), cache_index)
        out = self.attend.heads_major(query, key, value, bias)
        return self.resid_dropout(self.c_proj(merge_heads(out)))


class GPT2MLP(nn.Cell):
    def __init__(self, config: GPT2Config):
        super().__init__()
        std = config.initializer_range
        self.c_fc = Linear(config.hidden_size, config.ffn_hidden_size, init_std=std)
        self.c_proj = Linear(config.ffn_hidden_size, config.hidden_size, init_std=std / math.sqrt(2 * config.num_layers))
        self.act = activation(config.hidden_act)
        self.dropout = Dropout(config.hidden_dropout)

    def construct(self, x):
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class GPT2Block(nn.Cell):
    def __init__(self, config: GPT2Config, layer_idx: int):
        super().__init__()
        self.ln_1 = LayerNorm(config.hidden_size, config.layer_norm_epsilon)
        self.attn = GPT2Attention(config, layer_idx)
        self.ln_2 = LayerNorm(config.hidden_size, config.layer_norm_epsilon)
        self.mlp = GPT2MLP(config)

    def construct(self, x, bias, key_cache=None, value_cache=None, cache_index=None):
        x = x + self.attn(self.ln_1(x), bias, key_cache, value_cache, cache_index)
        return x + self.mlp(self.ln_2(x))


class GPT2PreTrainedModel(PreTrainedModel):
    config_class = GPT2Config
    base_model_prefix = "transformer"


class GPT2Model(GPT2PreTrainedModel):
    """The GPT-2 transformer without a head: hidden states [B, T, hidden]."""

    def __init__(self, config: GPT2Config):
        super().__init__(config)
        std = config.initializer_range
        self.wte = Embedding(config.vocab_size, config.hidden_size, init_std=std)
        self.wpe = Embedding(config.seq_length, config.hidden_size, init_std=std)
        self.drop = Dropout(config.embedding_dropout)
        self.h = nn.CellList([GPT2Block(config, i) for i in range(config.num_layers)])
        self.ln_f = LayerNorm(config.hidden_size, config.layer_norm_epsilon)
        self.causal_bias = causal_mask_bias(config.seq_length)

    def construct(self, input_ids, attention_mask=None, position_ids=None, kv_cache=None, cache_index=None):
        """kv_cache: None, or (key_0, value_0, key_1, ...) Parameters [B, heads, L, head_dim] that
        this call writes at slots cache_index..; attention_mask then covers all L slots."""
        length = input_ids.shape[1]
        if position_ids is None:
            position_ids = ops.arange(0, length, dtype=input_ids.dtype).reshape(1, length)
        x = self.drop(self.wte(input_ids) + self.wpe(position_ids))
        if kv_cache is None:
            bias = self.causal_bias[:, :, :length, :length]
            if attention_mask is not None:
                bias = bias + padding_mask_bias(attention_mask)
            for block in self.h:
                x = block(x, bias)
        else:
            bias = cache_mask_bias(attention_mask, cache_index, length)
            for i, block in enumerate(self.h):
                x = block(x, bias, kv_cache[2 * i], kv_cache[2 * i + 1], cache_index)
        return self.ln_f(x)

    def kv_cache_shapes(self, batch_size, max_length):
        """Shapes of the key/value cache tensors, in the order construct takes them."""
        config = self.config
        shape = kv_cache_shape(batch_size, config.num_heads, max_length, config.hidden_size // config.num_heads)
        return [shape] * (2 * config.num_layers)


class GPT2LMHeadModel(GPT2PreTrainedModel, GenerationMixin):
    """GPT-2 with the language-model head; returns logits, or (loss, logits) when labels are given."""

    def __init__(self, config: GPT2Config):
        super().__init__(config)
        self.transformer = GPT2Model(config)
        self.tied = config.tie_word_embeddings
        if not self.tied:
            self.lm_head = Linear(config.hidden_size, config.vocab_size, bias=False,
                                  init_std=config.initializer_range)
        self.logits_matmul = WeightMatMul()
        self.loss = CausalLMLoss()
        # where tensor parallelism sums the head's input gradient and gathers vocabulary-split logits
        self.lm_input = Identity()
        self.lm_output = Identity()

    def construct(self, input_ids, attention_mask=None, position_ids=None, labels=None, kv_cache=None,
                  cache_index=None, last_token_only=False):
        hidden = self.transformer(input_ids, attention_mask, position_ids, kv_cache, cache_index)
        if last_token_only:  # generation needs only the next-token logits
            hidden = hidden[:, -1:, :]
        logits = self.logits(hidden)
        if labels is None:
            return logits
        return self.loss(logits, labels), logits

    def logits(self, hidden):
        batch, length, width = hidden.shape
        weight = self.transformer.wte.weight if self.tied else self.lm_head.weight
        logits = self.logits_matmul(self.lm_input(hidden).reshape(-1, width), weight)
        return self.lm_output(logits).reshape(batch, length, -1)

    # ---- pipeline stages (mf.parallel.pipeline): embedding, blocks, head ------------------
    def stage_embed(self, input_ids):
        length = input_ids.shape[1]
        positions = ops.arange(0, length, dtype=input_ids.dtype).reshape(1, length)
        return self.transformer.drop(self.transformer.wte(input_ids) + self.transformer.wpe(positions))

    def stage_layer_inputs(self, input_ids):
        length = input_ids.shape[1]
        return (self.transformer.causal_bias[:, :, :length, :length],)

    def stage_layers(self):
        return self.transformer.h

    def stage_head(self, hidden):
        return self.logits(self.transformer.ln_f(hidden))

    def stage_cells(self, first, last):
        """The layers besides the blocks that the first and/or last pipeline stage computes with."""
        cells = [self.transformer.wte, self.transformer.wpe] if first else []
        if last:
            cells += [self.transformer.ln_f, self.transformer.wte if self.tied else self.lm_head]
        return cells

    def tied_parameters(self):
        """Names of parameters that the first and the last pipeline stage both use."""
        return ["transformer.wte.weight"] if self.tied else []

    def kv_cache_shapes(self, batch_size, max_length):
        return self.transformer.kv_cache_shapes(batch_size, max_length)
