"""PanguAlphaConfig: MindFormers' field names; the Hugging Face port's (`gpt_pangu`) names accepted and written back."""
from typing import Optional

from mf.config import PretrainedConfig
from mf.errors import ConfigError


class PanguAlphaConfig(PretrainedConfig):
    """Configuration of a PanGu-Alpha model (defaults: pangualpha_2_6b)."""

    model_type = "pangualpha"
    hf_model_types = ("gpt_pangu",)
    attribute_map = {
        "max_position_embeddings": "seq_length", "intermediate_size": "ffn_hidden_size",
        "activation_function": "hidden_act", "resid_pdrop": "hidden_dropout_rate",
        "embd_pdrop": "embedding_dropout_prob", "attn_pdrop": "attention_dropout_rate",
    }
    # MindFormers uses MindSpore's fast_gelu (x * sigmoid(1.702 x)); the Hugging Face port exact GELU
    choices = {"hidden_act": ("fast_gelu", "gelu", "gelu_new", "relu")}

    vocab_size: int = 40000
    seq_length: int = 1024
    hidden_size: int = 2560
    ffn_hidden_size: Optional[int] = None  # None means 4 * hidden_size
    num_layers: int = 32
    num_heads: int = 32
    hidden_act: str = "fast_gelu"
    embedding_dropout_prob: float = 0.1
    hidden_dropout_rate: float = 0.1
    attention_dropout_rate: float = 0.1
    layer_norm_epsilon: float = 1e-5
    # residuals from each LayerNorm's output instead of its input (MindFormers' option; False as published)
    post_layernorm_residual: bool = False
    initializer_range: float = 0.02
    # PanGu-Alpha's head is the word embedding table (the port's config may untie it: lm_head.weight then loads)
    tie_word_embeddings: bool = True
    bos_token_id: Optional[int] = 1
    eos_token_id: Optional[int] = 8   # <eod>
    pad_token_id: Optional[int] = 6   # <pad>

    def __init__(self, **kwargs):
        for name in ("hidden_act", "activation_function"):
            if kwargs.get(name) == "quick_gelu":  # transformers' name of the same function
                kwargs[name] = "fast_gelu"
        super().__init__(**kwargs)

    def validate(self):
        for name in ("vocab_size", "seq_length", "hidden_size", "num_heads"):
            value = getattr(self, name)
            if value <= 0:
                raise ConfigError(f"field '{name}' must be positive, got {value}")
        if self.num_layers < 1:
            raise ConfigError(f"field 'num_layers' must be >= 1 (the last layer is the top query layer), got "
                              f"{self.num_layers}")
        if self.hidden_size % self.num_heads:
            raise ConfigError(f"field 'hidden_size' ({self.hidden_size}) must be divisible by 'num_heads' "
                              f"({self.num_heads})")
        if self.ffn_hidden_size is not None and self.ffn_hidden_size <= 0:
            raise ConfigError(f"field 'ffn_hidden_size' must be positive, got {self.ffn_hidden_size}")
        if not self.layer_norm_epsilon > 0:
            raise ConfigError(f"field 'layer_norm_epsilon' must be > 0, got {self.layer_norm_epsilon}")
        for name in ("embedding_dropout_prob", "hidden_dropout_rate", "attention_dropout_rate"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"field '{name}' must be in [0, 1), got {getattr(self, name)}")

    @property
    def inner_size(self) -> int:
        return self.ffn_hidden_size or 4 * self.hidden_size

    def transformer_shape(self):
        """The shape `mf plan` estimates memory and compute from: the position table and the top query layer's
        query table are both seq_length rows."""
        from mf.parallel.shape import TransformerShape

        return TransformerShape(
            vocab_size=self.vocab_size, hidden_size=self.hidden_size, num_layers=self.num_layers,
            num_heads=self.num_heads, kv_heads=self.num_heads, head_dim=self.hidden_size // self.num_heads,
            ffn_hidden_size=self.inner_size, gated_mlp=False, attention_bias=True, mlp_bias=True,
            norm_bias=True, learned_positions=2 * self.seq_length, rotary=False,
            tied_embeddings=self.tie_word_embeddings,
            attention_dropout=self.attention_dropout_rate)

    def to_hf_dict(self):
        out = super().to_hf_dict()
        out["model_type"] = "gpt_pangu"
        if out.get("activation_function") == "fast_gelu":
            out["activation_function"] = "quick_gelu"  # what transformers' ACT2FN calls it
        out["architectures"] = ["GPTPanguForCausalLM"]
        return out
