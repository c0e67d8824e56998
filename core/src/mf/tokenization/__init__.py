"""Tokenizers: the base class and the vocabulary algorithms families build on."""
from .base import BatchEncoding, PreTrainedTokenizer
from .backend import BackendTokenizer, ByteLevelBPETokenizer, TokenizerJsonTokenizer
from .byte import ByteTokenizer
from .sentencepiece import SentencePieceTokenizer

__all__ = ["BatchEncoding", "PreTrainedTokenizer", "BackendTokenizer", "ByteLevelBPETokenizer", "ByteTokenizer",
           "SentencePieceTokenizer", "TokenizerJsonTokenizer"]
