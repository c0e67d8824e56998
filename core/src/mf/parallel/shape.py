"""What `mf plan` needs to know of a decoder-only transformer, and its exact parameter counts.

A family's config describes itself with `transformer_shape()`; the counts below follow the
layers mf builds (and how a sharding plan splits them over model_parallel ranks).
"""
from dataclasses import dataclass
from math import ceil


@dataclass(frozen=True)
class TransformerShape:
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    kv_heads: int
    head_dim: int
    ffn_hidden_size: int
    gated_mlp: bool              # SwiGLU: gate, up and down matrices (else up and down)
    attention_bias: bool         # q/k/v and output projections carry biases
    mlp_bias: bool               # MLP projections carry biases
    norm_bias: bool              # LayerNorm (weight and bias) rather than RMSNorm (weight)
    learned_positions: int = 0   # rows of learned position tables (0 with rotary embeddings)
    embedding_norm: bool = False  # a LayerNorm right after the embedding (BLOOM)
    rotary: bool = False
    tied_embeddings: bool = True
    attention_dropout: float = 0.0  # in training: mf's fused attention does not do dropout

    @property
    def query_width(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_width(self) -> int:
        return self.kv_heads * self.head_dim

    def norm_parameters(self) -> int:
        return self.hidden_size * (2 if self.norm_bias else 1)

    def layer_parameters(self, model_parallel: int = 1) -> int:
        """One transformer block on one model-parallel rank (Megatron's layout: q/k/v and the MLP's
        up/gate projections split by output, the output and down projections by input)."""
        h, f, t = self.hidden_size, self.ffn_hidden_size, model_parallel
        up_matrices = 2 if self.gated_mlp else 1
        column = h * (self.query_width + 2 * self.kv_width) + up_matrices * h * f
        row = self.query_width * h + f * h
        params = (column + row) // t + 2 * self.norm_parameters()
        if self.attention_bias:
            params += (self.query_width + 2 * self.kv_width) // t + h  # a row layer's bias is whole
        if self.mlp_bias:
            params += up_matrices * f // t + h
        return params

    def vocab_rows(self, model_parallel: int = 1) -> int:
        """Rows of the (vocabulary-split) embedding on the rank with the most."""
        return ceil(self.vocab_size / model_parallel)

    def embedding_parameters(self, model_parallel: int = 1) -> int:
        norm = self.norm_parameters() if self.embedding_norm else 0
        return (self.vocab_rows(model_parallel) + self.learned_positions) * self.hidden_size + norm

    def head_parameters(self, model_parallel: int = 1) -> int:
        """The final norm and, when untied, the LM head."""
        head = 0 if self.tied_embeddings else self.vocab_rows(model_parallel) * self.hidden_size
        return self.norm_parameters() + head

    def parameters(self) -> int:
        """The whole model's parameter count (what `model.num_parameters()` reports)."""
        return self.embedding_parameters() + self.num_layers * self.layer_parameters() + self.head_parameters()

    def matmul_parameters(self) -> int:
        """Weights that take part in a matrix product per token: the blocks' projections and the
        LM head (the embedding lookup is not a product)."""
        h, f = self.hidden_size, self.ffn_hidden_size
        per_layer = h * (2 * self.query_width + 2 * self.kv_width) + (3 if self.gated_mlp else 2) * h * f
        return self.num_layers * per_layer + self.vocab_size * h
