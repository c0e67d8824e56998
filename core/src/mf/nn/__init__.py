"""Shared building blocks for model families: layers, activations, attention."""
from .layers import Dropout, Embedding, LayerNorm, Linear, activation
from .attention import (cache_mask_bias, causal_mask_bias, kv_cache_shape, merge_heads, padding_mask_bias,
                        scaled_dot_product_attention, split_heads, write_cache)
from .losses import IGNORE_INDEX, CausalLMLoss, TokenCrossEntropy

__all__ = ["IGNORE_INDEX", "CausalLMLoss", "TokenCrossEntropy", "Dropout", "Embedding", "LayerNorm", "Linear", "activation",
           "cache_mask_bias", "causal_mask_bias", "padding_mask_bias", "scaled_dot_product_attention",
           "kv_cache_shape", "merge_heads", "split_heads", "write_cache"]
