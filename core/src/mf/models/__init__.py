"""The model contract: one base (or Protocol) per role, owning what every family of that role shares.

Causal LMs subclass DecoderModel and CausalLM (causal_lm.py); encoder-decoders subclass
EncoderDecoderLM (seq2seq_lm.py). The other roles are declared in
roles.py as Protocols: what core's pipelines, Trainer and mf.testing call on such a model.
"""
from .blocks import PreNormBlock
from .causal_lm import CausalLM, DecoderModel
from .roles import ROLES, role_protocol
from .seq2seq_lm import EncoderDecoderLM, decoder_self_bias

__all__ = ["CausalLM", "DecoderModel", "EncoderDecoderLM", "decoder_self_bias", "PreNormBlock", "ROLES", "role_protocol"]
