"""T5Processor: source text -> the ids (under 'text', as MindFormers' processors) and attention mask a
T5 takes, padded to max_length; `text_target` adds the labels (padding ignored, -100)."""
import numpy as np

from mf.errors import TokenizerError
from mf.nn.losses import IGNORE_INDEX
from mf.processing import ProcessorMixin

from .tokenization import T5Tokenizer


class T5Processor(ProcessorMixin):
    tokenizer_class = T5Tokenizer

    def __init__(self, tokenizer=None, max_length=128, padding="max_length", return_tensors="ms"):
        super().__init__(tokenizer=tokenizer or T5Tokenizer(), max_length=max_length, padding=padding,
                         return_tensors=return_tensors)

    def __call__(self, text_input=None, text_target=None, image_input=None):
        if image_input is not None:
            raise TokenizerError("T5Processor takes text, not images")
        if text_input is None:
            raise TokenizerError("T5Processor needs text_input")
        texts = [text_input] if isinstance(text_input, str) else list(text_input)
        encoded = self.tokenizer(texts, max_length=self.max_length, padding=self.padding, truncation=True,
                                 return_tensors=self.return_tensors)
        out = {"text": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}
        if text_target is not None:
            targets = [text_target] if isinstance(text_target, str) else list(text_target)
            labels = self.tokenizer(targets, max_length=self.max_length, padding=self.padding, truncation=True)
            ids = np.where(np.asarray(labels["attention_mask"]) == 1, np.asarray(labels["input_ids"]), IGNORE_INDEX)
            out["labels"] = _as(ids.astype(np.int32), self.return_tensors)
        return out


def _as(array, kind):
    if kind == "ms":
        from mindspore import Tensor

        return Tensor(array)
    return array if kind == "np" else array.tolist()
