"""PanGu-Alpha (Zeng et al. 2021) in MindSpore, with the parameter names of its Hugging Face port
(GPTPanguForCausalLM); convert.py also reads MindFormers' names.

A GPT decoder (learned positions, pre-norm blocks, a head tied to the word embedding) whose last block is the
*top query layer*: the final LayerNorm comes before it, not after, and its attention's queries are projected
from a second position table (the query embedding, wqe) instead of from the hidden states; its keys and values
come from the (normalised) hidden states as usual. Its output goes straight to the head.
"""
import math

from mindspore import nn

from mf.models import CausalLM, DecoderModel
from mf.nn import DotProductAttention, Dropout, Embedding, LayerNorm, Linear, activation, merge_heads, \
    split_heads

from .configuration import PanguAlphaConfig


class PanguAlphaAttention(nn.Cell):
    """Self-attention with separate q/k/v projections; the top query layer passes its queries' source."""

    def __init__(self, config: PanguAlphaConfig):
        super().__init__()
        self.num_heads = config.num_heads
        width, std = config.hidden_size, config.initializer_range
        self.q_proj = Linear(width, width, init_std=std)
        self.k_proj = Linear(width, width, init_std=std)
        self.v_proj = Linear(width, width, init_std=std)
        self.c_proj = Linear(width, width, init_std=std / math.sqrt(2 * config.num_layers))
        self.resid_dropout = Dropout(config.hidden_dropout_rate)
        self.head_dim = width // config.num_heads
        self.attend = DotProductAttention(1.0 / math.sqrt(self.head_dim), Dropout(config.attention_dropout_rate))

    def construct(self, x, bias, key_cache=None, value_cache=None, cache_index=None):
        return self.attention(x, x, bias, key_cache, value_cache, cache_index)

    def attention(self, query_source, x, bias, key_cache=None, value_cache=None, cache_index=None):
        query, key, value = self.q_proj(query_source), self.k_proj(x), self.v_proj(x)
        if key_cache is None:
            batch, length, _ = x.shape
            shape = (batch, length, self.num_heads, self.head_dim)
            out = self.attend(query.reshape(shape), key.reshape(shape), value.reshape(shape), bias)
            return self.resid_dropout(self.c_proj(out))
        query = split_heads(query, self.num_heads)
        out = self.attend.cached(query, split_heads(key, self.num_heads), split_heads(value, self.num_heads),
                                 key_cache, value_cache, cache_index, bias)
        return self.resid_dropout(self.c_proj(merge_heads(out)))


class PanguAlphaQueryAttention(PanguAlphaAttention):
    """The top query layer's attention: queries from the query embedding of each token's position."""

    def construct(self, x, query_embedding, bias, key_cache=None, value_cache=None, cache_index=None):
        return self.attention(query_embedding, x, bias, key_cache, value_cache, cache_index)


class PanguAlphaMLP(nn.Cell):
    def __init__(self, config: PanguAlphaConfig):
        super().__init__()
        std = config.initializer_range
        self.c_fc = Linear(config.hidden_size, config.inner_size, init_std=std)
        self.c_proj = Linear(config.inner_size, config.hidden_size, init_std=std / math.sqrt(2 * config.num_layers))
        self.act = activation(config.hidden_act)
        self.dropout = Dropout(config.hidden_dropout_rate)

    def construct(self, x):
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class PanguAlphaBlock(nn.Cell):
    """x + attention(ln_1(x), *inputs), then x + mlp(ln_2(x)); with post_layernorm_residual the residuals are
    the norms' outputs. The top query layer's inputs start with the query embedding."""

    def __init__(self, config: PanguAlphaConfig, query_layer: bool = False):
        super().__init__()
        width, eps = config.hidden_size, config.layer_norm_epsilon
        self.ln_1 = LayerNorm(width, eps)
        self.attn = PanguAlphaQueryAttention(config) if query_layer else PanguAlphaAttention(config)
        self.ln_2 = LayerNorm(width, eps)
        self.mlp = PanguAlphaMLP(config)
        self.residual_from_norm = config.post_layernorm_residual

    def construct(self, h, *inputs):
        x = self.ln_1(h)
        h = (x if self.residual_from_norm else h) + self.attn(x, *inputs)
        y = self.ln_2(h)
        return (y if self.residual_from_norm else h) + self.mlp(y)


class PanguAlphaModel(DecoderModel):
    """The PanGu-Alpha transformer without a head: the top query layer's output [B, T, hidden]."""

    blocks_attr, norm_attr, embedding_attr = "h", "ln_f", "wte"

    def __init__(self, config: PanguAlphaConfig):
        super().__init__(config)
        std = config.initializer_range
        self.wte = Embedding(config.vocab_size, config.hidden_size, init_std=std)
        self.wpe = Embedding(config.seq_length, config.hidden_size, init_std=std)
        self.wqe = Embedding(config.seq_length, config.hidden_size, init_std=std)  # the top query embedding
        self.drop = Dropout(config.embedding_dropout_prob)
        last = config.num_layers - 1
        self.h = nn.CellList([PanguAlphaBlock(config, query_layer=i == last) for i in range(config.num_layers)])
        self.ln_f = LayerNorm(config.hidden_size, config.layer_norm_epsilon)

    def embed(self, input_ids, position_ids):
        return self.drop(self.wte(input_ids) + self.wpe(position_ids))

    def construct(self, input_ids, attention_mask=None, position_ids=None, kv_cache=None, cache_index=None):
        """As core's DecoderModel, except that the final norm comes before the last block, which also takes
        the query embedding of the positions."""
        if position_ids is None:
            position_ids = self.default_positions(input_ids)
        x = self.embed(input_ids, position_ids)
        query = self.wqe(position_ids).broadcast_to(x.shape)  # positions may be [1, T] for the whole batch
        last = len(self.h) - 1
        if kv_cache is None:
            bias = self.attention_bias(input_ids, attention_mask)
            for i in range(last):
                x = self.h[i](x, bias)
            return self.h[last](self.ln_f(x), query, bias)
        bias = self.attention_bias(input_ids, attention_mask, cache_index)
        for i in range(last):
            x = self.h[i](x, bias, kv_cache[2 * i], kv_cache[2 * i + 1], cache_index)
        return self.h[last](self.ln_f(x), query, bias, kv_cache[2 * last], kv_cache[2 * last + 1], cache_index)


class PanguAlphaHeadModel(CausalLM):
    """PanGu-Alpha with its head (the word embedding table); returns logits, or (loss, logits) with labels.
    MindFormers' name; the Hugging Face port calls it GPTPanguForCausalLM."""

    config_class = PanguAlphaConfig
    backbone_class = PanguAlphaModel
    base_model_prefix = "transformer"

    # ---- pipeline stages: the blocks before the top query layer are split over stages; the last stage
    # runs the final norm, the top query layer (with the query embedding) and the head
    def stage_layers(self):
        blocks = self.backbone.blocks()
        return [blocks[i] for i in range(len(blocks) - 1)]

    def stage_head(self, hidden):
        backbone = getattr(self, self.base_model_prefix)
        shape_of_ids = hidden[:, :, 0]  # positions and the causal mask depend only on [B, T]
        positions = backbone.default_positions(shape_of_ids)
        bias = backbone.attention_bias(shape_of_ids, None)
        top = backbone.h[len(backbone.h) - 1]
        query = backbone.wqe(positions).broadcast_to(hidden.shape)
        return self.logits(top(backbone.ln_f(hidden), query, bias))

    def stage_cells(self, first, last):
        backbone = self.backbone
        cells = [backbone.wte, backbone.wpe, backbone.drop] if first else []
        if last:
            blocks = backbone.blocks()
            cells += [backbone.ln_f, blocks[len(blocks) - 1], backbone.wqe, self.head_cell()]
        return cells
