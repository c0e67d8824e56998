"""Processors: turn raw inputs (text, later images) into the tensors a model takes."""
from pathlib import Path
from typing import Optional

from .errors import TokenizerError
from .fileio import read_json, write_json

PROCESSOR_CONFIG_NAME = "processor_config.json"


class ProcessorMixin:
    """Base class of processors. A text processor pads and truncates to max_length.

    Calling it returns {'text': Tensor[batch, max_length]} as MindFormers' processors do.
    """

    tokenizer_class: Optional[type] = None

    def __init__(self, tokenizer=None, max_length: int = 128, padding="max_length", return_tensors: str = "ms"):
        if tokenizer is None:
            raise TokenizerError(f"{type(self).__name__} needs a tokenizer")
        if not isinstance(max_length, int) or max_length <= 0:
            raise TokenizerError(f"max_length must be a positive integer, got {max_length!r}")
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.padding = padding
        self.return_tensors = return_tensors

    def __call__(self, text_input=None, image_input=None):
        """Process text (a string or a list of strings) into {'text': ids}."""
        if text_input is None and image_input is None:
            raise TokenizerError(f"{type(self).__name__} needs text_input")
        output = {}
        if text_input is not None:
            texts = [text_input] if isinstance(text_input, str) else list(text_input)
            encoded = self.tokenizer(texts, max_length=self.max_length, padding=self.padding, truncation=True,
                                     return_tensors=self.return_tensors)
            output["text"] = encoded["input_ids"]
        if image_input is not None:
            output["image"] = self.process_images(image_input)
        return output

    def process_images(self, images):
        raise NotImplementedError(f"{type(self).__name__} does not take images")

    def processor_config(self):
        return {"processor_class": type(self).__name__, "max_length": self.max_length,
                "padding": self.padding, "return_tensors": self.return_tensors}

    def save_pretrained(self, save_directory):
        """Write processor_config.json and the tokenizer's files."""
        directory = Path(save_directory)
        self.tokenizer.save_pretrained(directory)
        write_json(directory / PROCESSOR_CONFIG_NAME, self.processor_config())

    @classmethod
    def from_pretrained(cls, name_or_path, tokenizer=None, **kwargs):
        """A preset's processor, or one saved in a directory (its tokenizer comes along)."""
        from .auto import AutoTokenizer
        from .resolve import locate

        location = locate(name_or_path)
        options = {}
        if location.directory is not None and (location.directory / PROCESSOR_CONFIG_NAME).is_file():
            options = read_json(location.directory / PROCESSOR_CONFIG_NAME, TokenizerError)
            options.pop("processor_class", None)
        elif location.preset is not None:
            options = dict(location.preset.processor or {})
        if tokenizer is None:
            tokenizer = (cls.tokenizer_class or AutoTokenizer).from_pretrained(name_or_path)
        return cls(tokenizer=tokenizer, **{**options, **kwargs})
