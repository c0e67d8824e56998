"""GPT-2 (Radford et al. 2019) in MindSpore, parameter names as in Hugging Face's GPT2LMHeadModel."""
import math

from mindspore import nn, ops

from mf.models import CausalLM, DecoderModel, PreNormBlock
from mf.nn import DotProductAttention, Dropout, Embedding, LayerNorm, Linear, activation

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
        batch, length, _ = x.shape
        heads, head_dim = self.num_heads, self.hidden_size // self.num_heads
        qkv = self.c_attn(x).reshape(batch, length, 3, heads, head_dim)  # token-major [B, T, q/k/v, heads, d]
        if key_cache is None:
            out = self.attend.packed(qkv, bias)
        else:
            query, key, value = ops.unstack(qkv, axis=2)
            out = self.attend.cached_tokens(query, key, value, key_cache, value_cache, cache_index, bias)
        return self.resid_dropout(self.c_proj(out))


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


class GPT2Block(PreNormBlock):
    sublayers = ("ln_1", "attn", "ln_2", "mlp")

    def __init__(self, config: GPT2Config, layer_idx: int):
        width, eps = config.hidden_size, config.layer_norm_epsilon
        super().__init__(LayerNorm(width, eps), GPT2Attention(config, layer_idx), LayerNorm(width, eps),
                         GPT2MLP(config))


class GPT2Model(DecoderModel):
    """The GPT-2 transformer without a head: hidden states [B, T, hidden]."""

    blocks_attr, norm_attr, embedding_attr = "h", "ln_f", "wte"

    def __init__(self, config: GPT2Config):
        super().__init__(config)
        std = config.initializer_range
        self.wte = Embedding(config.vocab_size, config.hidden_size, init_std=std)
        self.wpe = Embedding(config.seq_length, config.hidden_size, init_std=std)
        self.drop = Dropout(config.embedding_dropout)
        self.h = nn.CellList([GPT2Block(config, i) for i in range(config.num_layers)])
        self.ln_f = LayerNorm(config.hidden_size, config.layer_norm_epsilon)

    def embed(self, input_ids, position_ids):
        return self.drop(self.wte(input_ids) + self.wpe(position_ids))


class GPT2LMHeadModel(CausalLM):
    """GPT-2 with the language-model head; returns logits, or (loss, logits) when labels are given."""

    config_class = GPT2Config
    backbone_class = GPT2Model
    base_model_prefix = "transformer"
