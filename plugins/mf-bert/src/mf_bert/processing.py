"""BertProcessor: text (or sentence pairs) -> the three tensors a BERT model takes, padded to max_length.

As MindFormers' processors, the ids come under 'text'; BERT also needs its attention mask and token
types, which come under their own names, so `model(out['text'], out['attention_mask'],
out['token_type_ids'])` runs the model.
"""
from mf.errors import TokenizerError
from mf.processing import ProcessorMixin

from .tokenization import BertTokenizer


class BertProcessor(ProcessorMixin):
    tokenizer_class = BertTokenizer

    def __init__(self, tokenizer=None, max_length=128, padding="max_length", return_tensors="ms"):
        super().__init__(tokenizer=tokenizer or BertTokenizer(), max_length=max_length, padding=padding,
                         return_tensors=return_tensors)

    def __call__(self, text_input=None, text_pair=None, image_input=None):
        if image_input is not None:
            raise TokenizerError("BertProcessor takes text, not images")
        if text_input is None:
            raise TokenizerError("BertProcessor needs text_input")
        texts = [text_input] if isinstance(text_input, str) else list(text_input)
        pairs = None if text_pair is None else ([text_pair] if isinstance(text_pair, str) else list(text_pair))
        encoded = self.tokenizer(texts, pairs, max_length=self.max_length, padding=self.padding, truncation=True,
                                 return_tensors=self.return_tensors)
        return {"text": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
                "token_type_ids": encoded["token_type_ids"]}
