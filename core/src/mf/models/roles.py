"""The roles a model class can play, and what core expects of each (PLUGIN_API 1).

A family registers its classes by role: ``add_model_family(..., {"base": M, "causal_lm": L})``.
Each role below is a Protocol: the methods core's pipelines, Trainer and ``mf.testing`` call.
Conventions shared by all of them:
- construct returns the outputs alone, or ``(loss, *outputs)`` when labels are given; the loss is a
  scalar mean over the labelled items; label -100 (``mf.nn.IGNORE_INDEX``) is skipped;
- token inputs are int32 [B, T] with an optional float/int attention_mask [B, T] (1 = real token);
- images are float32 pixel_values [B, C, H, W], already normalised by the family's processor;
- a classification config carries ``num_labels`` and ``id2label``.
Causal LMs and encoder-decoders have base classes that implement their roles (mf.models.CausalLM,
mf.models.EncoderDecoderLM); the other roles will
get one when the first family of that role lands, written from that family and its Protocol.
"""
from typing import Dict, Protocol, runtime_checkable


@runtime_checkable
class Backbone(Protocol):
    """role "base": construct(input_ids, attention_mask=None, ...) -> hidden states [B, T, hidden]."""

    def construct(self, input_ids, attention_mask=None): ...


@runtime_checkable
class CausalLanguageModel(Protocol):
    """role "causal_lm": construct(input_ids, attention_mask, position_ids, labels, kv_cache, cache_index,
    last_token_only) -> logits [B, T, vocab] (or (loss, logits)); generate() through GenerationMixin."""

    def construct(self, input_ids, attention_mask=None, position_ids=None, labels=None, kv_cache=None,
                  cache_index=None, last_token_only=False): ...

    def kv_cache_shapes(self, batch_size, max_length): ...

    def generate(self, input_ids, attention_mask=None, generation_config=None, streamer=None,
                 tokenizer=None, **kwargs): ...


@runtime_checkable
class MaskedLanguageModel(Protocol):
    """role "masked_lm": construct(input_ids, attention_mask, token_type_ids, labels) -> logits [B, T, vocab]."""

    def construct(self, input_ids, attention_mask=None, token_type_ids=None, labels=None): ...


@runtime_checkable
class SequenceClassifier(Protocol):
    """role "sequence_classification": ... -> logits [B, num_labels]; labels [B]."""

    def construct(self, input_ids, attention_mask=None, token_type_ids=None, labels=None): ...


@runtime_checkable
class TokenClassifier(Protocol):
    """role "token_classification": ... -> logits [B, T, num_labels]; labels [B, T]."""

    def construct(self, input_ids, attention_mask=None, token_type_ids=None, labels=None): ...


@runtime_checkable
class QuestionAnswerer(Protocol):
    """role "question_answering": ... -> (start_logits [B, T], end_logits [B, T]); labels are
    (start_positions [B], end_positions [B]) and the loss is the mean of the two cross entropies."""

    def construct(self, input_ids, attention_mask=None, token_type_ids=None, start_positions=None,
                  end_positions=None): ...


@runtime_checkable
class Seq2SeqLanguageModel(Protocol):
    """role "seq2seq_lm": encode once, decode with a key/value cache.

    construct(input_ids, attention_mask, decoder_input_ids, decoder_attention_mask, labels) -> logits
    [B, T_dec, vocab] (or (loss, logits); without decoder_input_ids the labels shifted right);
    encode(input_ids, attention_mask) -> encoder states [B, T_enc, hidden]; generate() continues
    decoder_start_token_id for each input and returns the decoder tokens, the start token first.
    mf.models.EncoderDecoderLM implements all of it on a family's encode / cross_attention_kv / decode."""

    def construct(self, input_ids, attention_mask=None, decoder_input_ids=None, decoder_attention_mask=None,
                  labels=None): ...

    def encode(self, input_ids, attention_mask=None): ...

    def generate(self, input_ids, attention_mask=None, generation_config=None, **kwargs): ...


@runtime_checkable
class ImageClassifier(Protocol):
    """role "image_classification": construct(pixel_values, labels) -> logits [B, num_labels]."""

    def construct(self, pixel_values, labels=None): ...


@runtime_checkable
class MaskedImageModel(Protocol):
    """role "masked_image_modeling" (MAE): construct(pixel_values, noise=None) -> (loss, reconstruction
    [B, patches, p * p * C], mask [B, patches], 1 = hidden); noise [B, patches] decides the mask (the
    patches with the smallest values are shown), else it is drawn at random. The config has patch_size."""

    def construct(self, pixel_values, noise=None): ...


@runtime_checkable
class ImageTextModel(Protocol):
    """role "image_text" (CLIP): embeddings of both modalities in one space.

    get_image_features(pixel_values) -> [B, D]; get_text_features(input_ids, attention_mask) -> [B, D];
    logit_scale: a Parameter, the log of the similarity's scale; construct(input_ids, pixel_values,
    attention_mask) -> (logits_per_image [B_img, B_txt], logits_per_text [B_txt, B_img]); with
    return_loss=True the symmetric contrastive loss first (mf.nn.contrastive_loss). The Trainer's
    contrastive task uses the two feature methods and logit_scale, gathering across data-parallel ranks."""

    def construct(self, input_ids, pixel_values, attention_mask=None, return_loss=False): ...

    def get_image_features(self, pixel_values): ...

    def get_text_features(self, input_ids, attention_mask=None): ...


ROLES: Dict[str, type] = {
    "base": Backbone,
    "causal_lm": CausalLanguageModel,
    "masked_lm": MaskedLanguageModel,
    "sequence_classification": SequenceClassifier,
    "token_classification": TokenClassifier,
    "question_answering": QuestionAnswerer,
    "seq2seq_lm": Seq2SeqLanguageModel,
    "image_classification": ImageClassifier,
    "masked_image_modeling": MaskedImageModel,
    "image_text": ImageTextModel,
}


def role_protocol(role: str) -> type:
    """The Protocol of a role; unknown roles are an error listing the known ones."""
    if role not in ROLES:
        from ..errors import UnknownNameError

        raise UnknownNameError(f"unknown model role '{role}'. Roles in this PLUGIN_API: {', '.join(ROLES)}")
    return ROLES[role]
