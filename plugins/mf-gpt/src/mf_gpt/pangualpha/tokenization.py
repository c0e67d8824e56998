"""PanguAlphaTokenizer: jieba word segmentation, then SentencePiece, with PanGu's space and newline stand-ins.

As PanGu-Alpha's own tokenizer: the text is cut into words by jieba, spaces and newlines inside the words
become U+2582 and U+2583, and the words are joined by spaces for SentencePiece (so its word boundaries are
jieba's). Decoding drops SentencePiece's spaces and maps the stand-ins back. Nothing is added around the text
(add_bos_token / add_eos_token to change that).
"""
import logging
from importlib import resources
from typing import List

from mf.tokenization import SentencePieceTokenizer

SPACE, NEWLINE = "\u2582", "\u2583"
_TO_STANDINS = str.maketrans(" \n", SPACE + NEWLINE)


def bundled_tokenizer_model() -> str:
    """The stand-in PanGu vocabulary shipped with mf-gpt (tools/make_pangu_standin_tokenizer.py): 12000
    SentencePiece pieces trained on jieba-segmented classical poetry and modern Chinese, with PanGu's special
    tokens. PanGu-Alpha's own vocab.model: pass it as vocab_file."""
    return str(resources.files("mf_gpt") / "data" / "pangu_standin.model")


def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)  # it logs its dictionary loading at INFO
    return jieba


class PanguAlphaTokenizer(SentencePieceTokenizer):
    vocab_files = {"vocab_file": "vocab.model"}

    def __init__(self, vocab_file=None, bos_token="<s>", eos_token="<eod>", unk_token="<unk>", pad_token="<pad>",
                 padding_side="left", add_bos_token=False, add_eos_token=False, model_max_length=1024, **kwargs):
        super().__init__(vocab_file or bundled_tokenizer_model(), bos_token=bos_token, eos_token=eos_token,
                         unk_token=unk_token, pad_token=pad_token, padding_side=padding_side,
                         add_bos_token=add_bos_token, add_eos_token=add_eos_token,
                         model_max_length=model_max_length, **kwargs)
        self.jieba = _jieba()

    def _encode_span(self, text: str) -> List[int]:
        words = [word.translate(_TO_STANDINS) for word in self.jieba.cut(text, cut_all=False)]
        return self.sp.EncodeAsIds(" ".join(words))

    def _decode_span(self, ids: List[int]) -> str:
        return self.sp.DecodeIds(ids).replace(" ", "").replace(SPACE, " ").replace(NEWLINE, "\n")
