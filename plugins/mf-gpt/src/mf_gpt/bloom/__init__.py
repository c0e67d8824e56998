"""BLOOM (BigScience 2022) for mf: ALiBi attention, an embedding LayerNorm, a per-head fused query_key_value."""
from .configuration import BloomConfig
from .modeling import BloomForCausalLM, BloomModel, alibi_slopes
from .tokenization import BloomTokenizer

__all__ = ["BloomConfig", "BloomModel", "BloomForCausalLM", "BloomTokenizer", "alibi_slopes"]
