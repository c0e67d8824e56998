"""GPT2Config: mf field names (the tutorial's), Hugging Face names accepted and written back."""
from typing import Optional

from mf.config import PretrainedConfig
from mf.errors import ConfigError


class GPT2Config(PretrainedConfig):
    """Configuration of a GPT-2 model (defaults: GPT-2 small, 124M)."""

    model_type = "gpt2"
    attribute_map = {
        "n_embd": "hidden_size", "n_layer": "num_layers", "n_head": "num_heads",
        "n_positions": "seq_length", "n_inner": "intermediate_size",
        "activation_function": "hidden_act", "resid_pdrop": "hidden_dropout",
        "embd_pdrop": "embedding_dropout", "attn_pdrop": "attention_dropout",
    }
    choices = {"hidden_act": ("gelu_new", "gelu", "gelu_pytorch_tanh", "gelu_fast", "relu", "silu")}

    vocab_size: int = 50257
    seq_length: int = 1024
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: Optional[int] = None  # None means 4 * hidden_size
    hidden_act: str = "gelu_new"
    hidden_dropout: float = 0.1
    embedding_dropout: float = 0.1
    attention_dropout: float = 0.1
    layer_norm_epsilon: float = 1e-5
    initializer_range: float = 0.02
    scale_attn_weights: bool = True
    scale_attn_by_inverse_layer_idx: bool = False
    tie_word_embeddings: bool = True
    bos_token_id: Optional[int] = 50256
    eos_token_id: Optional[int] = 50256

    def validate(self):
        for name in ("vocab_size", "seq_length", "hidden_size", "num_layers", "num_heads"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"field '{name}' must be positive, got {getattr(self, name)}")
        if self.hidden_size % self.num_heads:
            raise ConfigError(f"field 'hidden_size' ({self.hidden_size}) must be divisible by "
                              f"'num_heads' ({self.num_heads})")
        if not self.layer_norm_epsilon > 0:  # also refuses NaN
            raise ConfigError(f"field 'layer_norm_epsilon' must be > 0, got {self.layer_norm_epsilon}")
        for name in ("hidden_dropout", "embedding_dropout", "attention_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"field '{name}' must be in [0, 1), got {getattr(self, name)}")

    @property
    def ffn_hidden_size(self) -> int:
        return self.intermediate_size or 4 * self.hidden_size

    def transformer_shape(self):
        """The shape `mf plan` estimates memory and compute from."""
        from mf.parallel.shape import TransformerShape

        return TransformerShape(
            vocab_size=self.vocab_size, hidden_size=self.hidden_size, num_layers=self.num_layers,
            num_heads=self.num_heads, kv_heads=self.num_heads, head_dim=self.hidden_size // self.num_heads,
            ffn_hidden_size=self.ffn_hidden_size, gated_mlp=False, attention_bias=True, mlp_bias=True,
            norm_bias=True, learned_positions=self.seq_length, rotary=False,
            tied_embeddings=self.tie_word_embeddings, attention_dropout=self.attention_dropout)

    def to_hf_dict(self):
        out = super().to_hf_dict()
        out["architectures"] = ["GPT2LMHeadModel"]
        return out
