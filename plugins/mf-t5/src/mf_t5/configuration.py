"""T5Config: Hugging Face's field names (MindFormers' T5 uses the same ones), read and written back."""
from typing import Optional

from mf.config import PretrainedConfig
from mf.errors import ConfigError

# feed_forward_proj -> (activation, gated): "relu" is T5 v1.0's, "gated-gelu" v1.1's (and mT5's, Flan-T5's)
FEED_FORWARD = {"relu": ("relu", False), "gelu": ("gelu", False), "gated-gelu": ("gelu_new", True),
                "gated-relu": ("relu", True), "gated-silu": ("silu", True)}


class T5Config(PretrainedConfig):
    """Configuration of a T5 encoder-decoder (defaults: t5-small)."""

    model_type = "t5"
    choices = {"feed_forward_proj": tuple(FEED_FORWARD)}

    vocab_size: int = 32128
    d_model: int = 512
    d_kv: int = 64
    d_ff: int = 2048
    num_layers: int = 6
    num_decoder_layers: Optional[int] = None   # None: as many as num_layers
    num_heads: int = 8
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    dropout_rate: float = 0.1
    layer_norm_epsilon: float = 1e-6
    initializer_factor: float = 1.0
    feed_forward_proj: str = "relu"
    tie_word_embeddings: bool = True
    # scale the decoder's output by d_model^-0.5 before the head (None: when the head is tied, as T5 v1.0;
    # transformers 5 writes it, and ties every T5 head, so a v1.1 checkpoint saved by it says false here)
    scale_decoder_outputs: Optional[bool] = None
    pad_token_id: Optional[int] = 0
    eos_token_id: Optional[int] = 1
    decoder_start_token_id: int = 0

    def __init__(self, **kwargs):
        # derived from feed_forward_proj (to_hf_dict writes them for transformers), not settings of their own
        for derived in ("dense_act_fn", "is_gated_act", "is_encoder_decoder"):
            kwargs.pop(derived, None)
        # the generic spellings are accepted; config.json keeps T5's own (transformers writes those)
        for alias, name in (("hidden_size", "d_model"), ("num_attention_heads", "num_heads"),
                            ("num_hidden_layers", "num_layers")):
            if alias in kwargs:
                kwargs.setdefault(name, kwargs.pop(alias))
        super().__init__(**kwargs)

    def validate(self):
        if self.num_decoder_layers is None:
            self.num_decoder_layers = self.num_layers
        for name in ("vocab_size", "d_model", "d_kv", "d_ff", "num_layers", "num_decoder_layers", "num_heads",
                     "relative_attention_num_buckets"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"field '{name}' must be positive, got {getattr(self, name)}")
        if self.relative_attention_max_distance < self.relative_attention_num_buckets // 4:
            raise ConfigError(f"field 'relative_attention_max_distance' ({self.relative_attention_max_distance}) "
                              f"must be at least a quarter of 'relative_attention_num_buckets' "
                              f"({self.relative_attention_num_buckets})")
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ConfigError(f"field 'dropout_rate' must be in [0, 1), got {self.dropout_rate}")

    @property
    def hidden_size(self) -> int:
        return self.d_model

    @property
    def activation(self) -> str:
        return FEED_FORWARD[self.feed_forward_proj][0]

    @property
    def gated(self) -> bool:
        return FEED_FORWARD[self.feed_forward_proj][1]

    def parameter_count(self) -> int:
        """Parameters of T5ForConditionalGeneration of this shape (for model cards; T5 is not the
        decoder-only shape that transformer_shape() describes)."""
        d, inner = self.d_model, self.num_heads * self.d_kv
        attention = 4 * d * inner + d                                  # q, k, v, o and the layer norm
        feed_forward = (3 if self.gated else 2) * d * self.d_ff + d
        bias = self.relative_attention_num_buckets * self.num_heads   # in each stack's first block
        encoder = self.num_layers * (attention + feed_forward) + bias + d
        decoder = self.num_decoder_layers * (2 * attention + feed_forward) + bias + d
        embeddings = self.vocab_size * d * (1 if self.tie_word_embeddings else 2)
        return embeddings + encoder + decoder

    def to_hf_dict(self):
        out = super().to_hf_dict()
        out.update(is_encoder_decoder=True, dense_act_fn=self.activation, is_gated_act=self.gated)
        out.setdefault("architectures", ["T5ForConditionalGeneration"])
        return out
