"""Shared building blocks for model families: layers, activations, attention."""
from .layers import Dropout, Embedding, LayerNorm, Linear, activation
from .attention import causal_mask_bias, padding_mask_bias, scaled_dot_product_attention
from .losses import IGNORE_INDEX, causal_lm_loss

__all__ = ["IGNORE_INDEX", "causal_lm_loss", "Dropout", "Embedding", "LayerNorm", "Linear", "activation",
           "causal_mask_bias", "padding_mask_bias", "scaled_dot_product_attention"]
