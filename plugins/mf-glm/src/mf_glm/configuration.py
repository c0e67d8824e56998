"""GLMConfig: MindFormers' field names for GLM-6B; the ChatGLM-6B (Hugging Face `chatglm`) names accepted and
written back."""
from typing import Optional

from mf.config import PretrainedConfig
from mf.errors import ConfigError


class GLMConfig(PretrainedConfig):
    """Configuration of a GLM model (defaults: GLM-6B / ChatGLM-6B)."""

    model_type = "glm"
    hf_model_types = ("chatglm",)
    attribute_map = {"num_attention_heads": "num_heads", "max_sequence_length": "seq_length"}

    vocab_size: int = 130528
    hidden_size: int = 4096
    inner_hidden_size: int = 16384
    num_layers: int = 28
    num_heads: int = 32
    seq_length: int = 2048
    layernorm_epsilon: float = 1e-5
    # the residual scale alpha = sqrt(2 * residual_num_layers): ChatGLM-6B's blocks take 28 here whatever the
    # model's depth (its GLMBlock default, which the model never overrides), so a smaller GLM keeps 28
    residual_num_layers: int = 28
    position_encoding_2d: bool = True
    rotary_base: float = 10000.0
    attention_dropout: float = 0.0
    initializer_range: float = 0.02
    # GLM-6B has its own LM head matrix (checkpoints carry lm_head.weight)
    tie_word_embeddings: bool = False
    bos_token_id: Optional[int] = 130004   # <sop>
    eos_token_id: Optional[int] = 130005   # <eop>
    pad_token_id: Optional[int] = 3
    mask_token_id: int = 130000            # [MASK]: fill in a blank
    gmask_token_id: int = 130001           # [gMASK]: continue the text

    def __init__(self, **kwargs):
        if kwargs.get("quantization_bit"):
            raise ConfigError(f"field 'quantization_bit' is {kwargs['quantization_bit']}: mf loads GLM weights in "
                              f"float (fp32/fp16/bf16 checkpoints); use the unquantized checkpoint")
        if kwargs.get("pre_seq_len"):
            raise ConfigError("field 'pre_seq_len' is set (a P-Tuning v2 prefix encoder), which mf's GLM does not "
                              "implement; fine-tune with LoRA (glm_6b_lora) instead")
        for ignored in ("quantization_bit", "pre_seq_len", "prefix_projection"):
            kwargs.pop(ignored, None)
        # ChatGLM's config says tie_word_embeddings (the transformers default) yet its checkpoints hold their own
        # lm_head.weight, which the model uses: mf keeps the head untied
        kwargs.pop("tie_word_embeddings", None)
        super().__init__(**kwargs)

    def validate(self):
        for name in ("vocab_size", "hidden_size", "inner_hidden_size", "num_layers", "num_heads", "seq_length",
                     "residual_num_layers"):
            value = getattr(self, name)
            if value <= 0:
                raise ConfigError(f"field '{name}' must be positive, got {value}")
        if self.hidden_size % self.num_heads:
            raise ConfigError(f"field 'hidden_size' ({self.hidden_size}) must be divisible by 'num_heads' "
                              f"({self.num_heads})")
        if self.head_dim % 4:
            raise ConfigError(f"the head size hidden_size / num_heads = {self.head_dim} must be divisible by 4: "
                              f"GLM rotates two halves of every head, each in pairs")
        if not self.position_encoding_2d:
            raise ConfigError("field 'position_encoding_2d' is false; mf's GLM implements GLM-6B's 2-D positions "
                              "only")
        if not self.layernorm_epsilon > 0:
            raise ConfigError(f"field 'layernorm_epsilon' must be > 0, got {self.layernorm_epsilon}")
        if not self.rotary_base > 0:
            raise ConfigError(f"field 'rotary_base' must be > 0, got {self.rotary_base}")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def alpha(self) -> float:
        return (2.0 * self.residual_num_layers) ** 0.5

    def transformer_shape(self):
        """The shape `mf plan` estimates memory and compute from."""
        from mf.parallel.shape import TransformerShape

        return TransformerShape(
            vocab_size=self.vocab_size, hidden_size=self.hidden_size, num_layers=self.num_layers,
            num_heads=self.num_heads, kv_heads=self.num_heads, head_dim=self.head_dim,
            ffn_hidden_size=self.inner_hidden_size, gated_mlp=False, attention_bias=True, mlp_bias=True,
            norm_bias=True, learned_positions=0, rotary=True, tied_embeddings=False,
            attention_dropout=self.attention_dropout)

    def to_hf_dict(self):
        out = super().to_hf_dict()
        out["model_type"] = "chatglm"
        out["architectures"] = ["ChatGLMForConditionalGeneration"]
        out["tie_word_embeddings"] = False
        return out
