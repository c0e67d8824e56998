"""BertConfig: mf field names (the tutorial's), Hugging Face names accepted and written back."""
from typing import Dict, Optional

from mf.config import PretrainedConfig
from mf.errors import ConfigError


class BertConfig(PretrainedConfig):
    """Configuration of a BERT model (defaults: bert-base-uncased)."""

    model_type = "bert"
    attribute_map = {"num_hidden_layers": "num_layers", "num_attention_heads": "num_heads",
                     "max_position_embeddings": "seq_length", "hidden_dropout_prob": "hidden_dropout",
                     "attention_probs_dropout_prob": "attention_dropout"}
    choices = {"hidden_act": ("gelu", "gelu_new", "relu", "silu", "gelu_pytorch_tanh")}

    vocab_size: int = 30522
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    seq_length: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: Optional[int] = 0
    num_labels: int = 2
    id2label: Optional[Dict[str, str]] = None
    classifier_dropout: Optional[float] = None

    def validate(self):
        if self.id2label:  # as in transformers, the label map decides how many labels there are
            self.num_labels = len(self.id2label)
        for name in ("vocab_size", "hidden_size", "num_layers", "num_heads", "intermediate_size", "seq_length"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"field '{name}' must be positive, got {getattr(self, name)}")
        if self.hidden_size % self.num_heads:
            raise ConfigError(f"field 'hidden_size' ({self.hidden_size}) must be divisible by "
                              f"'num_heads' ({self.num_heads})")
        if self.num_labels < 1:
            raise ConfigError(f"field 'num_labels' must be at least 1, got {self.num_labels}")

    def labels(self):
        """id -> label name (id2label, or LABEL_<i>)."""
        names = self.id2label or {}
        return [names.get(str(i), names.get(i, f"LABEL_{i}")) for i in range(self.num_labels)]

    def transformer_shape(self):
        """The encoder's shape for `mf plan` and the model cards. Its parameter count is BertModel's without
        the pooler: the position and token-type tables are the learned rows, and the embeddings' LayerNorm
        stands where a decoder has its final norm (a task head adds its own few)."""
        from mf.parallel.shape import TransformerShape

        return TransformerShape(
            vocab_size=self.vocab_size, hidden_size=self.hidden_size, num_layers=self.num_layers,
            num_heads=self.num_heads, kv_heads=self.num_heads, head_dim=self.hidden_size // self.num_heads,
            ffn_hidden_size=self.intermediate_size, gated_mlp=False, attention_bias=True, mlp_bias=True,
            norm_bias=True, learned_positions=self.seq_length + self.type_vocab_size, rotary=False,
            tied_embeddings=True, attention_dropout=self.attention_dropout)

    def to_hf_dict(self):
        out = super().to_hf_dict()
        out.setdefault("architectures", ["BertForMaskedLM"])
        return out
