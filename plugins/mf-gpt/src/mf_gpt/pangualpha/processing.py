"""PanguAlphaProcessor: text -> {'text': ids padded to max_length}, as MindFormers' PanguAlphaProcessor."""
from mf.processing import ProcessorMixin

from .tokenization import PanguAlphaTokenizer


class PanguAlphaProcessor(ProcessorMixin):
    tokenizer_class = PanguAlphaTokenizer

    def __init__(self, tokenizer=None, max_length=128, padding="max_length", return_tensors="ms"):
        super().__init__(tokenizer=tokenizer or PanguAlphaTokenizer(), max_length=max_length, padding=padding,
                         return_tensors=return_tensors)
