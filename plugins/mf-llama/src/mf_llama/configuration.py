"""LlamaConfig: MindFormers' field names; Hugging Face's (v4 and v5 spellings) accepted and written back."""
from typing import Any, Dict, Optional

from mf.config import PretrainedConfig
from mf.errors import ConfigError

ROPE_TYPES = ("default", "linear", "llama3")


class LlamaConfig(PretrainedConfig):
    """Configuration of a LLaMA model (defaults: LLaMA-7B)."""

    model_type = "llama"
    attribute_map = {
        "num_hidden_layers": "num_layers", "num_attention_heads": "num_heads",
        "num_key_value_heads": "n_kv_heads", "max_position_embeddings": "seq_length",
    }
    choices = {"hidden_act": ("silu",)}

    vocab_size: int = 32000
    hidden_size: int = 4096
    intermediate_size: int = 11008
    num_layers: int = 32
    num_heads: int = 32
    n_kv_heads: Optional[int] = None          # None: as many as num_heads (no GQA)
    head_dim: Optional[int] = None            # None: hidden_size // num_heads
    seq_length: int = 2048
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    rope_scaling: Optional[Dict[str, Any]] = None
    hidden_act: str = "silu"
    attention_bias: bool = False
    attention_dropout: float = 0.0
    tie_word_embeddings: bool = False
    initializer_range: float = 0.02
    bos_token_id: Optional[int] = 1
    eos_token_id: Optional[int] = 2

    def __init__(self, **kwargs):
        # transformers 5 writes rope settings as rope_parameters = {rope_theta, rope_type, factor, ...}
        parameters = kwargs.pop("rope_parameters", None)
        if parameters is not None and not isinstance(parameters, dict):
            raise ConfigError(f"field 'rope_parameters' must be an object like {{\"rope_theta\": 10000.0}}, got "
                              f"{parameters!r}")
        if parameters:
            parameters = dict(parameters)
            kwargs.setdefault("rope_theta", parameters.pop("rope_theta", 10000.0))
            if parameters.get("rope_type", "default") != "default":
                kwargs.setdefault("rope_scaling", parameters)
        for unsupported in ("mlp_bias",):
            if kwargs.get(unsupported):
                raise ConfigError(f"field '{unsupported}' is true, which mf's LLaMA does not implement")
        kwargs.pop("mlp_bias", None)
        kwargs.pop("pretraining_tp", None)
        super().__init__(**kwargs)

    def validate(self):
        for name in ("vocab_size", "hidden_size", "intermediate_size", "num_layers", "num_heads", "seq_length"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"field '{name}' must be positive, got {getattr(self, name)}")
        if self.head_dim is None and self.hidden_size % self.num_heads:
            raise ConfigError(f"field 'hidden_size' ({self.hidden_size}) must be divisible by 'num_heads' "
                              f"({self.num_heads})")
        if self.num_heads % self.kv_heads:
            raise ConfigError(f"field 'num_heads' ({self.num_heads}) must be divisible by 'n_kv_heads' "
                              f"({self.kv_heads})")
        if self.head_dim is not None and self.head_dim <= 0:
            raise ConfigError(f"field 'head_dim' must be positive, got {self.head_dim}")
        if self.attention_head_dim % 2:
            raise ConfigError(f"the head size ({self.attention_head_dim}) must be even: rotary embeddings rotate "
                              f"features in pairs")
        # `not x > 0` also refuses NaN, which would make every logit NaN
        if not self.rms_norm_eps > 0:
            raise ConfigError(f"field 'rms_norm_eps' must be > 0, got {self.rms_norm_eps}")
        if not self.rope_theta > 0:
            raise ConfigError(f"field 'rope_theta' must be > 0, got {self.rope_theta}")
        if self.rope_scaling is not None and not isinstance(self.rope_scaling, dict):
            raise ConfigError(f"field 'rope_scaling' must be an object like {{\"rope_type\": \"linear\", "
                              f"\"factor\": 2.0}}, got {self.rope_scaling!r}")
        if self.rope_scaling:
            kind = self.rope_scaling.get("rope_type", self.rope_scaling.get("type"))
            if kind not in ROPE_TYPES:
                raise ConfigError(f"field 'rope_scaling' has type {kind!r}; allowed: {', '.join(ROPE_TYPES)}")
            if kind != "default" and "factor" not in self.rope_scaling:
                raise ConfigError("field 'rope_scaling' needs a 'factor'")

    @property
    def kv_heads(self) -> int:
        return self.n_kv_heads or self.num_heads

    @property
    def attention_head_dim(self) -> int:
        return self.head_dim or self.hidden_size // self.num_heads

    def transformer_shape(self):
        """The shape `mf plan` estimates memory and compute from."""
        from mf.parallel.shape import TransformerShape

        return TransformerShape(
            vocab_size=self.vocab_size, hidden_size=self.hidden_size, num_layers=self.num_layers,
            num_heads=self.num_heads, kv_heads=self.kv_heads, head_dim=self.attention_head_dim,
            ffn_hidden_size=self.intermediate_size, gated_mlp=True, attention_bias=self.attention_bias,
            mlp_bias=False, norm_bias=False, learned_positions=0, rotary=True,
            tied_embeddings=self.tie_word_embeddings, attention_dropout=self.attention_dropout)

    def to_hf_dict(self):
        out = super().to_hf_dict()
        out["num_key_value_heads"] = self.kv_heads
        out["architectures"] = ["LlamaForCausalLM"]
        return out
