"""The causal language model contract: core owns everything decoder-only families share.

A family writes two classes:

    class MyModel(DecoderModel):             # the backbone: embeddings -> blocks -> final norm
        blocks_attr, norm_attr, embedding_attr = "layers", "norm", "embed_tokens"
        def __init__(self, config): build self.<embeddings>, self.layers (a CellList), self.norm
        def embed(self, input_ids, position_ids): -> hidden [B, T, H]
        def block_inputs(self, position_ids): -> tuple of extra tensors every block takes (optional)
        def default_positions(self, input_ids), attention_bias(...): other position or mask rules (optional)

    class MyForCausalLM(CausalLM):           # the head: nothing to write but three names
        config_class, backbone_class, base_model_prefix = MyConfig, MyModel, "model"

and a block that is called as ``block(x, *block_inputs, bias)`` in training and as
``block(x, *block_inputs, bias, key_cache, value_cache, cache_index)`` when decoding with a
cache (`bias` is the additive attention mask; `mf.nn.write_cache` fills the cache).

Core then provides: the causal and padding masks, the key/value-cache loop and its shapes (from
``config.transformer_shape()``), the LM head tied to the input embedding or not, the next-token
loss, the places tensor parallelism hooks into (``lm_input`` / ``lm_output``), the pipeline-stage
methods, ``max_positions`` and ``generate()``. A family may override any of it.

Config fields core reads: vocab_size, hidden_size, num_layers, seq_length, initializer_range,
tie_word_embeddings, and transformer_shape() (num_heads/kv_heads/head_dim for the cache).
"""
import mindspore as ms
from mindspore import ops

from ..generation import GenerationMixin
from ..modeling import PreTrainedModel
from ..nn import CausalLMLoss, Identity, Linear, WeightMatMul, cache_mask_bias, causal_mask_bias, kv_cache_shape, \
    padding_mask_bias


class DecoderModel(PreTrainedModel):
    """A decoder-only transformer without a head: hidden states [B, T, hidden]."""

    # attribute names of the block list and of the final norm (they are part of parameter names)
    blocks_attr = "layers"
    norm_attr = "norm"
    # attribute name of the token embedding (an mf.nn.Embedding) that a tied LM head reuses
    embedding_attr = "embed_tokens"

    def __init__(self, config):
        super().__init__(config)
        self.causal_bias = causal_mask_bias(config.seq_length)

    # ---- what a family supplies ---------------------------------------------------------
    def embed(self, input_ids, position_ids):
        """Token (and position) embeddings of input_ids [B, T] at position_ids [B or 1, T]."""
        raise NotImplementedError(f"{type(self).__name__} must define embed(input_ids, position_ids)")

    def block_inputs(self, position_ids):
        """Extra tensors every block takes before the mask bias (rotary tables, ...)."""
        return ()

    def default_positions(self, input_ids):
        """Position ids when the caller gives none: 0, 1, ... [1, T]. A family whose positions depend on the
        tokens (GLM's 2-D positions around <sop>) computes them here from input_ids, inside the graph."""
        length = input_ids.shape[1]
        return ops.arange(0, length, dtype=ms.int32).reshape(1, length)

    def attention_bias(self, input_ids, attention_mask, cache_index=None):
        """The additive attention mask every block gets. Without a cache: causal over the T tokens, plus
        padding where attention_mask [B, T] is 0 ([1 or B, 1, T, T]). With a cache (cache_index given):
        attention_mask [B, L] marks the cache slots that hold real tokens and the T queries sit at slots
        cache_index.. ([B, 1, T, L]). A family with another pattern (a prefix-LM) overrides this."""
        length = input_ids.shape[1]
        if cache_index is not None:
            return cache_mask_bias(attention_mask, cache_index, length)
        bias = self.causal_bias[:, :, :length, :length]
        if attention_mask is not None:
            bias = bias + padding_mask_bias(attention_mask)
        return bias

    # ---- what core provides -------------------------------------------------------------
    def construct(self, input_ids, attention_mask=None, position_ids=None, kv_cache=None, cache_index=None):
        """kv_cache: None, or (key_0, value_0, key_1, ...) cache Parameters written at slots
        cache_index..; attention_mask then covers every cache slot."""
        if position_ids is None:
            position_ids = self.default_positions(input_ids)
        x = self.embed(input_ids, position_ids)
        extra = self.block_inputs(position_ids)
        blocks = getattr(self, self.blocks_attr)
        if kv_cache is None:
            bias = self.attention_bias(input_ids, attention_mask)
            for block in blocks:
                x = block(x, *extra, bias)
        else:
            bias = self.attention_bias(input_ids, attention_mask, cache_index)
            for i, block in enumerate(blocks):
                x = block(x, *extra, bias, kv_cache[2 * i], kv_cache[2 * i + 1], cache_index)
        return getattr(self, self.norm_attr)(x)

    def kv_cache_shapes(self, batch_size, max_length):
        """Shapes of the key/value cache tensors, in the order construct takes them."""
        shape = self.config.transformer_shape()
        return [kv_cache_shape(batch_size, shape.kv_heads, max_length, shape.head_dim)] * (2 * shape.num_layers)

    def blocks(self):
        """The block list (a CellList)."""
        return getattr(self, self.blocks_attr)

    def input_embedding(self):
        """The token embedding cell."""
        return getattr(self, self.embedding_attr)

    def embedding_cells(self):
        """The cells before the blocks (what the first pipeline stage runs besides its blocks)."""
        skip = {self.blocks_attr, self.norm_attr}
        return [cell for name, cell in self.name_cells().items() if name not in skip]


class CausalLM(PreTrainedModel, GenerationMixin):
    """A DecoderModel with a language-model head; returns logits, or (loss, logits) with labels."""

    # the family's DecoderModel subclass, and the attribute that holds it ("transformer", "model")
    backbone_class = DecoderModel
    base_model_prefix = "model"
    supports_weight_quantization = True  # every weight is read through Linear / Embedding (mf.quantization)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        backbone = cls.__dict__.get("backbone_class")
        if backbone is not None:
            # the backbone (the family's "base" role) shares the head's config class and knows the
            # attribute the head keeps it under, so weights saved by either load into the other
            backbone.config_class = cls.config_class
            backbone.base_model_prefix = cls.base_model_prefix

    def __init__(self, config):
        super().__init__(config)
        setattr(self, self.base_model_prefix, self.backbone_class(config))
        self.tied = bool(getattr(config, "tie_word_embeddings", True))
        if not self.tied:
            self.lm_head = Linear(config.hidden_size, config.vocab_size, bias=False,
                                  init_std=getattr(config, "initializer_range", 0.02))
        self.logits_matmul = WeightMatMul()
        self.loss = CausalLMLoss()
        # where tensor parallelism sums the head's input gradient and gathers vocabulary-split logits
        self.lm_input = Identity()
        self.lm_output = Identity()

    @property
    def backbone(self) -> DecoderModel:
        return getattr(self, self.base_model_prefix)

    def construct(self, input_ids, attention_mask=None, position_ids=None, labels=None, kv_cache=None,
                  cache_index=None, last_token_only=False):
        hidden = getattr(self, self.base_model_prefix)(input_ids, attention_mask, position_ids, kv_cache,
                                                       cache_index)
        if last_token_only and hidden.shape[1] > 1:  # generation needs only the next-token logits
            hidden = hidden[:, -1:, :]
        logits = self.logits(hidden)
        if labels is None:
            return logits
        return self.loss(logits, labels), logits

    def head_cell(self):
        """The cell whose `weight` [vocab, hidden] the head multiplies by: the embedding when tied."""
        return self.backbone.input_embedding() if self.tied else self.lm_head

    def logits(self, hidden):
        batch, length, width = hidden.shape
        backbone = getattr(self, self.base_model_prefix)
        head = getattr(backbone, backbone.embedding_attr) if self.tied else self.lm_head
        scale = getattr(head, "weight_scale", None)  # int8 weights' scales once quantised (mf.quantization)
        logits = self.logits_matmul(self.lm_input(hidden).reshape(-1, width), head.weight, scale)
        return self.lm_output(logits).reshape(batch, length, -1)

    def kv_cache_shapes(self, batch_size, max_length):
        return self.backbone.kv_cache_shapes(batch_size, max_length)

    def max_positions(self):
        """The longest sequence the model accepts (its causal mask and position tables)."""
        return int(self.config.seq_length)

    # ---- pipeline stages (mf.parallel.pipeline): embedding, blocks, head ------------------
    # (called inside compiled stages: they reach the backbone by getattr, not the property)
    def stage_embed(self, input_ids):
        backbone = getattr(self, self.base_model_prefix)
        return backbone.embed(input_ids, backbone.default_positions(input_ids))

    def stage_layer_inputs(self, input_ids):
        backbone = getattr(self, self.base_model_prefix)
        return backbone.block_inputs(backbone.default_positions(input_ids)) + (
            backbone.attention_bias(input_ids, None),)

    def stage_layers(self):
        return self.backbone.blocks()

    def stage_head(self, hidden):
        backbone = getattr(self, self.base_model_prefix)
        return self.logits(getattr(backbone, backbone.norm_attr)(hidden))

    def stage_cells(self, first, last):
        """The layers besides the blocks that the first and/or last pipeline stage computes with."""
        cells = self.backbone.embedding_cells() if first else []
        if last:
            cells += [getattr(self.backbone, self.backbone.norm_attr), self.head_cell()]
        return cells

    def tied_parameters(self):
        """Names of parameters that the first and the last pipeline stage both use."""
        if not self.tied:
            return []
        return [f"{self.base_model_prefix}.{self.backbone.embedding_attr}.weight"]
