"""T5 (Raffel et al. 2020) in MindSpore, with Hugging Face's parameter names.

An encoder and a decoder of pre-norm blocks (RMS layer norm without bias, attention without the
1/sqrt(d) scaling and without biases), positions given only by a learned bias per head and relative
distance bucket, shared by every layer of a stack and computed in its first. The decoder's blocks
add cross-attention over the encoder's states. v1.0 uses a ReLU MLP and reads logits off the shared
embedding with the decoder's output scaled by d_model^-0.5; v1.1 a gated-GELU MLP and a head of its own.

Core's EncoderDecoderLM (mf.models) supplies the rest: teacher-forced construct with the loss, and
generate() with the encoder run once and the decoder's self-attention cache.
"""
import math

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from mf.models import EncoderDecoderLM, decoder_self_bias
from mf.modeling import PreTrainedModel
from mf.nn import DotProductAttention, Dropout, Embedding, Linear, RMSNorm, RotaryDecodeAttention, WeightMatMul, \
    activation, kv_cache_shape, merge_heads, padding_mask_bias, scaled_dot_product_attention, split_heads

from .configuration import T5Config


def relative_position_buckets(bidirectional: bool, num_buckets: int, max_distance: int) -> np.ndarray:
    """The bucket of every relative position (key - query) in [-max_distance, max_distance], as T5
    assigns them: exact buckets for small distances, logarithmic ones up to max_distance, and one
    bucket for everything farther (so a table of this span serves any length). Computed in float32
    as transformers does, so that the buckets agree at their boundaries."""
    relative = np.arange(-max_distance, max_distance + 1, dtype=np.int64)
    buckets = np.zeros_like(relative)
    if bidirectional:
        num_buckets //= 2
        buckets += (relative > 0) * num_buckets
        distance = np.abs(relative)
    else:
        distance = -np.minimum(relative, 0)
    max_exact = num_buckets // 2
    with np.errstate(divide="ignore"):
        scaled = (np.log(distance.astype(np.float32) / np.float32(max_exact))
                  / np.float32(math.log(max_distance / max_exact)) * np.float32(num_buckets - max_exact))
    large = max_exact + np.where(distance > 0, scaled, 0).astype(np.int64)
    large = np.minimum(large, num_buckets - 1)
    buckets += np.where(distance < max_exact, distance, large)
    return buckets.astype(np.int32)


class T5Attention(nn.Cell):
    """Multi-head attention with q, k, v, o projections (no biases, no score scaling)."""

    def __init__(self, config: T5Config, has_relative_attention_bias: bool = False, bidirectional: bool = True):
        super().__init__()
        self.num_heads, self.head_dim = config.num_heads, config.d_kv
        inner, std = config.num_heads * config.d_kv, config.initializer_factor
        self.q = Linear(config.d_model, inner, bias=False, init_std=std * (config.d_model * config.d_kv) ** -0.5)
        self.k = Linear(config.d_model, inner, bias=False, init_std=std * config.d_model ** -0.5)
        self.v = Linear(config.d_model, inner, bias=False, init_std=std * config.d_model ** -0.5)
        self.o = Linear(inner, config.d_model, bias=False, init_std=std * inner ** -0.5)
        self.dropout = Dropout(config.dropout_rate)
        # inference's fused kernels: a decoded token's self-attention (projections, cache writes, attention and
        # output in one kernel: RotaryDecodeAttention's, its rotation made the identity, as T5's positions come
        # from the bias), a prompt's cache writes and attention, cross-attention
        self.attend = DotProductAttention(1.0, Dropout(0.0))
        self.decode = RotaryDecodeAttention(1.0)
        pairs = (1, 1, 1, config.d_kv // 2)
        self.no_rotation = (ms.Tensor(np.ones(pairs, np.float32)), ms.Tensor(np.zeros(pairs, np.float32))) \
            if config.d_kv % 2 == 0 else None
        if has_relative_attention_bias:
            self.relative_attention_bias = Embedding(config.relative_attention_num_buckets, config.num_heads,
                                                     init_std=std * config.d_model ** -0.5)
            self.max_distance = config.relative_attention_max_distance
            self.bucket_table = ms.Tensor(relative_position_buckets(
                bidirectional, config.relative_attention_num_buckets, self.max_distance))

    def position_bias(self, queries, keys, offset):
        """The bias [1, heads, T, L] of T queries at positions offset.. over L keys at positions 0.."""
        query_positions = (ops.arange(0, queries, dtype=ms.int32) + offset).reshape(queries, 1)
        key_positions = ops.arange(0, keys, dtype=ms.int32).reshape(1, keys)
        relative = ops.clamp(key_positions - query_positions, -self.max_distance, self.max_distance)
        buckets = ops.gather(self.bucket_table, (relative + self.max_distance).reshape(-1), 0)
        bias = self.relative_attention_bias(buckets)                                  # [T * L, heads]
        return bias.reshape(queries, keys, -1).transpose(2, 0, 1).expand_dims(0)

    def keys_values(self, x):
        """Keys and values of x [B, L, d_model] as [B, heads, L, head_dim]."""
        return split_heads(self.k(x), self.num_heads), split_heads(self.v(x), self.num_heads)

    def construct(self, x, key, value, bias):
        """Queries from x attend to key/value [B, heads, L, head_dim] with the additive bias."""
        query = split_heads(self.q(x), self.num_heads)
        if not self.training and self.attend.fused_over_cache is not None and \
                self.attend.kernel_takes(bias, self.num_heads):
            # mf's attention kernel: the encoder's per-head position bias, cross-attention's padding mask
            out = self.attend.fused_over_cache(query, key, value, bias, self.attend.scale_tensor)
        else:
            out = scaled_dot_product_attention(query, key, value, bias, 1.0, self.dropout)
        return self.o(merge_heads(out))

    def cached(self, x, key_cache, value_cache, offset, bias):
        """x's tokens at slots offset.. of the caches attend over all of them (inference); a decoded token
        writes the caches and attends in one kernel, the per-head position bias included."""
        if x.shape[1] == 1 and not self.training and self.no_rotation is not None and \
                self.decode.fits(self.q, self.k, self.v, self.o):
            cos, sin = self.no_rotation
            return self.decode(x, self.q.weight, getattr(self.q, "weight_scale", None), self.k.weight,
                               getattr(self.k, "weight_scale", None), self.v.weight,
                               getattr(self.v, "weight_scale", None), self.o.weight,
                               getattr(self.o, "weight_scale", None), self.q.int8_activations, cos, sin,
                               key_cache, value_cache, offset, bias)
        key, value = self.keys_values(x)
        query = split_heads(self.q(x), self.num_heads)
        return self.o(merge_heads(self.attend.cached(query, key, value, key_cache, value_cache, offset, bias)))


class T5DenseActDense(nn.Cell):
    """wo(act(wi(x))), or wo(act(wi_0(x)) * wi_1(x)) when gated (T5 v1.1)."""

    def __init__(self, config: T5Config):
        super().__init__()
        std = config.initializer_factor
        self.gated = config.gated
        if self.gated:
            self.wi_0 = Linear(config.d_model, config.d_ff, bias=False, init_std=std * config.d_model ** -0.5)
            self.wi_1 = Linear(config.d_model, config.d_ff, bias=False, init_std=std * config.d_model ** -0.5)
        else:
            self.wi = Linear(config.d_model, config.d_ff, bias=False, init_std=std * config.d_model ** -0.5)
        self.wo = Linear(config.d_ff, config.d_model, bias=False, init_std=std * config.d_ff ** -0.5)
        self.act = activation(config.activation)
        self.dropout = Dropout(config.dropout_rate)

    def construct(self, x):
        if self.gated:
            hidden = self.act(self.wi_0(x)) * self.wi_1(x)
        else:
            hidden = self.act(self.wi(x))
        return self.wo(self.dropout(hidden))


class T5LayerFF(nn.Cell):
    """x + dropout(DenseReluDense(norm(x)))."""

    def __init__(self, config: T5Config):
        super().__init__()
        self.DenseReluDense = T5DenseActDense(config)  # Hugging Face's name for either kind
        self.layer_norm = RMSNorm(config.d_model, config.layer_norm_epsilon)
        self.dropout = Dropout(config.dropout_rate)

    def construct(self, x):
        return x + self.dropout(self.DenseReluDense(self.layer_norm(x)))


class T5LayerSelfAttention(nn.Cell):
    def __init__(self, config: T5Config, has_relative_attention_bias: bool, bidirectional: bool):
        super().__init__()
        self.SelfAttention = T5Attention(config, has_relative_attention_bias, bidirectional)
        self.layer_norm = RMSNorm(config.d_model, config.layer_norm_epsilon)
        self.dropout = Dropout(config.dropout_rate)

    def construct(self, x, bias, kv_cache=None, offset=None):
        """x + dropout(attention(norm(x))); with a cache, this step's keys and values are written at
        slots offset.. and the queries read the whole cache."""
        normed = self.layer_norm(x)
        if kv_cache is not None:
            return x + self.dropout(self.SelfAttention.cached(normed, kv_cache[0], kv_cache[1], offset, bias))
        key, value = self.SelfAttention.keys_values(normed)
        return x + self.dropout(self.SelfAttention(normed, key, value, bias))


class T5LayerCrossAttention(nn.Cell):
    def __init__(self, config: T5Config):
        super().__init__()
        self.EncDecAttention = T5Attention(config)
        self.layer_norm = RMSNorm(config.d_model, config.layer_norm_epsilon)
        self.dropout = Dropout(config.dropout_rate)

    def construct(self, x, key, value, bias):
        return x + self.dropout(self.EncDecAttention(self.layer_norm(x), key, value, bias))


class T5EncoderBlock(nn.Cell):
    def __init__(self, config: T5Config, first: bool):
        super().__init__()
        self.layer = nn.CellList([T5LayerSelfAttention(config, first, bidirectional=True), T5LayerFF(config)])

    def construct(self, x, bias):
        return self.layer[1](self.layer[0](x, bias))


class T5DecoderBlock(nn.Cell):
    def __init__(self, config: T5Config, first: bool):
        super().__init__()
        self.layer = nn.CellList([T5LayerSelfAttention(config, first, bidirectional=False),
                                  T5LayerCrossAttention(config), T5LayerFF(config)])

    def construct(self, x, self_bias, cross_key, cross_value, cross_bias, kv_cache=None, offset=None):
        x = self.layer[0](x, self_bias, kv_cache, offset)
        x = self.layer[1](x, cross_key, cross_value, cross_bias)
        return self.layer[2](x)


class T5Stack(nn.Cell):
    """The blocks of the encoder or the decoder and their final norm; the first block's relative
    position bias serves every block."""

    def __init__(self, config: T5Config, decoder: bool):
        super().__init__()
        count = config.num_decoder_layers if decoder else config.num_layers
        block = T5DecoderBlock if decoder else T5EncoderBlock
        self.block = nn.CellList([block(config, first=i == 0) for i in range(count)])
        self.final_layer_norm = RMSNorm(config.d_model, config.layer_norm_epsilon)
        self.dropout = Dropout(config.dropout_rate)

    def position_bias(self, queries, keys, offset):
        return self.block[0].layer[0].SelfAttention.position_bias(queries, keys, offset)


class T5PreTrainedModel(PreTrainedModel):
    config_class = T5Config
    base_model_prefix = ""
    # copies of the shared embedding that Hugging Face checkpoints may hold (convert.py drops them)
    ignore_on_load = (r"^(encoder|decoder)\.embed_tokens\.weight$",)


class T5Model(T5PreTrainedModel):
    """The bare encoder-decoder: decoder hidden states [B, T, d_model] (role "base")."""

    # a checkpoint of T5ForConditionalGeneration loads, without its head
    ignore_on_load = T5PreTrainedModel.ignore_on_load + (r"^lm_head\.weight$",)

    def __init__(self, config: T5Config):
        super().__init__(config)
        self.shared = Embedding(config.vocab_size, config.d_model, init_std=config.initializer_factor)
        self.encoder = T5Stack(config, decoder=False)
        self.decoder = T5Stack(config, decoder=True)

    # ---- encoder ------------------------------------------------------------------------
    def encode(self, input_ids, attention_mask):
        """Encoder states [B, S, d_model] of sources input_ids [B, S] (attention_mask: 1 = real token)."""
        stack = self.encoder
        x = stack.dropout(self.shared(input_ids))
        length = input_ids.shape[1]
        bias = stack.position_bias(length, length, 0) + padding_mask_bias(attention_mask)
        for block in stack.block:
            x = block(x, bias)
        return stack.dropout(stack.final_layer_norm(x))

    def cross_attention_kv(self, encoder_states):
        """Every decoder block's cross-attention keys and values of the encoder states."""
        out = ()
        for block in self.decoder.block:
            out = out + block.layer[1].EncDecAttention.keys_values(encoder_states)
        return out

    # ---- decoder ------------------------------------------------------------------------
    def decode(self, decoder_input_ids, self_bias, cross_bias, cross_kv, offset, kv_cache=None):
        """Decoder hidden states [B, T, d_model] (see mf.models.EncoderDecoderLM.decode)."""
        stack = self.decoder
        x = stack.dropout(self.shared(decoder_input_ids))
        keys = self_bias.shape[-1]
        bias = stack.position_bias(decoder_input_ids.shape[1], keys, offset) + self_bias
        for i, block in enumerate(stack.block):
            cache = None if kv_cache is None else (kv_cache[2 * i], kv_cache[2 * i + 1])
            x = block(x, bias, cross_kv[2 * i], cross_kv[2 * i + 1], cross_bias, cache, offset)
        return stack.dropout(stack.final_layer_norm(x))

    def kv_cache_shapes(self, batch_size, max_length):
        """The decoder's self-attention cache: a key and a value tensor per decoder block."""
        config = self.config
        return [kv_cache_shape(batch_size, config.num_heads, max_length, config.d_kv)] * \
            (2 * config.num_decoder_layers)

    def construct(self, input_ids, attention_mask=None, decoder_input_ids=None, decoder_attention_mask=None):
        if attention_mask is None:
            attention_mask = ops.ones(input_ids.shape, ms.float32)
        self_bias = decoder_self_bias(decoder_input_ids.shape[1], decoder_attention_mask)
        cross_kv = self.cross_attention_kv(self.encode(input_ids, attention_mask))
        return self.decode(decoder_input_ids, self_bias, padding_mask_bias(attention_mask), cross_kv, 0)


class T5ForConditionalGeneration(EncoderDecoderLM, T5Model):
    """T5 with its language-model head (role "seq2seq_lm"): translation, summarisation, any text-to-text
    task; construct, the loss and generate() come from mf.models.EncoderDecoderLM."""

    config_class = T5Config
    ignore_on_load = T5PreTrainedModel.ignore_on_load

    def __init__(self, config: T5Config):
        super().__init__(config)  # EncoderDecoderLM (the loss), then T5Model (the layers)
        self.tied = bool(config.tie_word_embeddings)
        if not self.tied:
            self.lm_head = Linear(config.d_model, config.vocab_size, bias=False, init_std=config.initializer_factor)
        scale = config.scale_decoder_outputs if config.scale_decoder_outputs is not None else self.tied
        self.output_scale = config.d_model ** -0.5 if scale else 1.0
        self.logits_matmul = WeightMatMul()

    def logits(self, hidden):
        batch, length, width = hidden.shape
        weight = self.shared.weight if self.tied else self.lm_head.weight
        logits = self.logits_matmul(hidden.reshape(-1, width) * self.output_scale, weight)
        return logits.reshape(batch, length, -1)

