"""GPT2Processor: text -> {'text': ids padded to max_length}, as in the tutorial."""
from mf.processing import ProcessorMixin

from .tokenization import GPT2Tokenizer


class GPT2Processor(ProcessorMixin):
    tokenizer_class = GPT2Tokenizer

    def __init__(self, tokenizer=None, max_length=128, padding="max_length", return_tensors="ms"):
        super().__init__(tokenizer=tokenizer or GPT2Tokenizer(), max_length=max_length, padding=padding,
                         return_tensors=return_tensors)
