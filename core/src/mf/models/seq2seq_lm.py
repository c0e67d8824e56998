"""The encoder-decoder (seq2seq) language model contract: core owns what every such family shares.

A family writes one class (plus its layers):

    class MyForConditionalGeneration(EncoderDecoderLM):
        config_class = MyConfig
        def encode(self, input_ids, attention_mask): -> encoder states [B, S, H]
        def cross_attention_kv(self, encoder_states): -> (key_0, value_0, key_1, ...), each decoder
            layer's cross-attention keys and values [B, heads, S, head_dim]
        def decode(self, decoder_input_ids, self_bias, cross_bias, cross_kv, offset, kv_cache=None):
            -> decoder hidden states [B, T, H] after its final norm. self_bias [b, 1, T, L] is the
            additive causal (and padding) mask over the decoder's keys, cross_bias [B, 1, 1, S] the
            sources' padding; the T tokens sit at decoder positions offset..offset+T-1; with kv_cache
            (key_0, value_0, ... cache Parameters, mf.nn.write_cache) they are written at those slots
            and attention reads the whole cache.
        def logits(self, hidden): -> [B, T, vocab]
        def kv_cache_shapes(self, batch_size, max_length): shapes of the decoder's self-attention cache

Core then provides construct (decoder inputs shifted right from the labels, the masks, the loss),
generate() with the encoder run once per batch of sources, cross-attention keys and values computed
once per source, and a static self-attention cache compiled once per (batch, source, cache) bucket.

Config fields core reads: pad_token_id, decoder_start_token_id, eos_token_id.
"""
import mindspore as ms
from mindspore import ops

from ..generation import GenerationMixin
from ..generation.encoder_decoder import EncoderDecoderCacheStepper, EncoderDecoderRecomputeStepper
from ..modeling import PreTrainedModel
from ..nn import IGNORE_INDEX, TokenLoss, cache_mask_bias, padding_mask_bias


def decoder_self_bias(length, decoder_attention_mask=None):
    """The decoder's additive self-attention mask [b, 1, T, T] in teacher forcing: causal, plus padding."""
    bias = cache_mask_bias(ops.ones((1, length), ms.float32), 0, length)
    if decoder_attention_mask is not None:
        bias = bias + padding_mask_bias(decoder_attention_mask)
    return bias


class EncoderDecoderLM(PreTrainedModel, GenerationMixin):
    """An encoder-decoder with a language-model head: logits, or (loss, logits) with labels.

    The family's methods (encode, cross_attention_kv, decode, logits, kv_cache_shapes) may come from a
    class listed after this one in the bases (class MyForConditionalGeneration(EncoderDecoderLM, MyModel)),
    so this class declares none of them; mf.testing checks that a family has them all."""

    FAMILY_METHODS = ("encode", "cross_attention_kv", "decode", "logits", "kv_cache_shapes")

    is_encoder_decoder = True

    def __init__(self, config):
        super().__init__(config)
        self.loss = TokenLoss()

    # ---- what core provides -------------------------------------------------------------
    def construct(self, input_ids, attention_mask=None, decoder_input_ids=None, decoder_attention_mask=None,
                  labels=None):
        """Teacher-forced decoding: logits [B, T, vocab] of every decoder position, with the mean cross
        entropy over labels that are not IGNORE_INDEX first when labels are given. Without
        decoder_input_ids the decoder reads the labels shifted right (decoder_start_token_id first)."""
        if attention_mask is None:
            attention_mask = ops.ones(input_ids.shape, ms.float32)
        if decoder_input_ids is None:
            decoder_input_ids = self.shift_right(labels)
        self_bias = decoder_self_bias(decoder_input_ids.shape[1], decoder_attention_mask)
        cross_kv = self.cross_attention_kv(self.encode(input_ids, attention_mask))
        hidden = self.decode(decoder_input_ids, self_bias, padding_mask_bias(attention_mask), cross_kv, 0)
        logits = self.logits(hidden)
        if labels is None:
            return logits
        return self.loss(logits, labels), logits

    def shift_right(self, labels):
        """Decoder inputs for labels: decoder_start_token_id, then the labels but the last, with ignored
        positions read as padding."""
        start = ops.full((labels.shape[0], 1), self.config.decoder_start_token_id, dtype=labels.dtype)
        shifted = ops.concat([start, labels[:, :-1]], axis=1)
        pad = self.config.pad_token_id if self.config.pad_token_id is not None else 0
        return ops.where(shifted == IGNORE_INDEX, ops.full_like(shifted, pad), shifted).astype(ms.int32)

    def decode_step(self, tokens, attention_mask, cross_kv, kv_cache, cache_index, cache_length):
        """Next-token logits [B, vocab] for tokens [B, 1] at decoder slot cache_index of a cache of
        cache_length slots (generate's step)."""
        self_bias = cache_mask_bias(ops.ones((1, cache_length), ms.float32), cache_index, 1)
        hidden = self.decode(tokens, self_bias, padding_mask_bias(attention_mask), cross_kv, cache_index, kv_cache)
        # [B, 1, vocab] -> [B, vocab] by a reshape: MindSpore's StridedSlice copied t5-small's logits in 0.9 ms
        return self.logits(hidden).reshape(tokens.shape[0], -1)

    def get_encoder_states(self, input_ids, attention_mask=None):
        """The encoder's last hidden states [B, S, H] (transformers' encoder_last_hidden_state)."""
        if attention_mask is None:
            attention_mask = ops.ones(input_ids.shape, ms.float32)
        return self.encode(input_ids, attention_mask)

    def max_positions(self):
        return None  # the decoder's length is bounded by the cache generate() sizes, not by the model

    def _generation_stepper(self, ids, mask, config, new_tokens):
        start = config.decoder_start_token_id
        if start is None:
            start = getattr(self.config, "decoder_start_token_id", None)
        if start is None:
            from ..generation import GenerationError

            raise GenerationError("an encoder-decoder needs decoder_start_token_id (in its config or "
                                  "generation_config) to start decoding")
        cls = EncoderDecoderCacheStepper if config.use_cache else EncoderDecoderRecomputeStepper
        return cls(self, ids, mask, new_tokens, int(start), int(self.config.pad_token_id or 0))
