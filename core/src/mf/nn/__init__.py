"""Shared building blocks for model families: layers, activations, attention."""
from .dropout import Dropout, key_dropouts, set_dropout_key
from .layers import (DecodeGatedFeedForward, Embedding, Identity, LayerNorm, Linear, RMSNorm, SwiGLU, WeightMatMul, activation,
                     can_join, joint_linear, normalize)
from .attention import (DotProductAttention, Rotary, RotaryDecodeAttention, apply_rotary, cache_mask_bias, causal_mask_bias, grouped_query_attention, kv_cache_shape,
                        merge_heads, padding_mask_bias, rotary_tables, scaled_dot_product_attention, split_heads,
                        write_cache)
from .losses import IGNORE_INDEX, CausalLMLoss, TokenCrossEntropy, TokenLoss, contrastive_loss

__all__ = ["IGNORE_INDEX", "CausalLMLoss", "TokenCrossEntropy", "TokenLoss", "contrastive_loss", "normalize", "Dropout", "key_dropouts", "set_dropout_key", "DecodeGatedFeedForward", "Embedding", "Identity", "LayerNorm", "Linear", "RMSNorm", "SwiGLU", "WeightMatMul", "activation", "can_join", "joint_linear",
           "cache_mask_bias", "causal_mask_bias", "padding_mask_bias", "scaled_dot_product_attention",
           "kv_cache_shape", "RotaryDecodeAttention", "merge_heads", "split_heads", "write_cache", "apply_rotary", "grouped_query_attention",
           "rotary_tables", "DotProductAttention", "Rotary"]
