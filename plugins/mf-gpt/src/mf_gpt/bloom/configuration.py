"""BloomConfig: MindFormers' field names for BLOOM; Hugging Face's `bloom` names accepted and written back."""
from typing import Optional

from mf.config import PretrainedConfig
from mf.errors import ConfigError


class BloomConfig(PretrainedConfig):
    """Configuration of a BLOOM model (defaults: bloom_560m)."""

    model_type = "bloom"
    attribute_map = {"n_layer": "num_layers", "n_head": "num_heads"}

    vocab_size: int = 250880
    hidden_size: int = 1024
    num_layers: int = 24
    num_heads: int = 16
    # BLOOM has no position table (ALiBi): this is the longest sequence mf builds masks for
    seq_length: int = 2048
    layer_norm_epsilon: float = 1e-5
    # residuals from the LayerNorm's output instead of its input (False in every published BLOOM)
    apply_residual_connection_post_layernorm: bool = False
    hidden_dropout: float = 0.0
    attention_dropout: float = 0.0
    initializer_range: float = 0.02
    tie_word_embeddings: bool = True
    bos_token_id: Optional[int] = 1
    eos_token_id: Optional[int] = 2
    pad_token_id: Optional[int] = 3

    def __init__(self, **kwargs):
        if "n_embed" in kwargs:  # Hugging Face's older name of hidden_size
            kwargs.setdefault("hidden_size", kwargs.pop("n_embed"))
        # Megatron's tensor-parallel rank count at pre-training and its exact-slicing switch change nothing in
        # the mathematics of a single-device forward pass; they are kept for the config to write back
        super().__init__(**kwargs)

    def validate(self):
        for name in ("vocab_size", "hidden_size", "num_layers", "num_heads", "seq_length"):
            value = getattr(self, name)
            if value <= 0:
                raise ConfigError(f"field '{name}' must be positive, got {value}")
        if self.hidden_size % self.num_heads:
            raise ConfigError(f"field 'hidden_size' ({self.hidden_size}) must be divisible by 'num_heads' "
                              f"({self.num_heads})")
        if not self.layer_norm_epsilon > 0:
            raise ConfigError(f"field 'layer_norm_epsilon' must be > 0, got {self.layer_norm_epsilon}")
        for name in ("hidden_dropout", "attention_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"field '{name}' must be in [0, 1), got {getattr(self, name)}")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def ffn_hidden_size(self) -> int:
        return 4 * self.hidden_size

    def transformer_shape(self):
        """The shape `mf plan` estimates memory and compute from."""
        from mf.parallel.shape import TransformerShape

        return TransformerShape(
            vocab_size=self.vocab_size, hidden_size=self.hidden_size, num_layers=self.num_layers,
            num_heads=self.num_heads, kv_heads=self.num_heads, head_dim=self.head_dim,
            ffn_hidden_size=self.ffn_hidden_size, gated_mlp=False, attention_bias=True, mlp_bias=True,
            norm_bias=True, learned_positions=0, embedding_norm=True, rotary=False,
            tied_embeddings=self.tie_word_embeddings, attention_dropout=self.attention_dropout)

    def to_hf_dict(self):
        out = super().to_hf_dict()
        out["architectures"] = ["BloomForCausalLM"]
        return out
