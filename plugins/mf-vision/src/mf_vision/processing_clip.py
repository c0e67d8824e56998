"""CLIPProcessor: the image processor and the CLIP tokenizer behind one call.

    processor(text=["a photo of a cat"], images=[image], return_tensors="ms")
        -> {"input_ids", "attention_mask", "pixel_values"} (transformers' names; captions padded to the longest)
    processor(text_input=..., image_input=...) -> {"text": ids padded to 77, "image": pixels} (MindFormers')
"""
from pathlib import Path

from mf.errors import TokenizerError
from mf.fileio import write_json
from mf.image_processing import ImageProcessor
from mf.processing import PROCESSOR_CONFIG_NAME

from .tokenization_clip import CLIPTokenizer


class CLIPProcessor:
    image_processor_class = ImageProcessor
    tokenizer_class = CLIPTokenizer

    def __init__(self, image_processor=None, tokenizer=None, max_length: int = 77):
        self.image_processor = image_processor if image_processor is not None else ImageProcessor()
        self.tokenizer = tokenizer if tokenizer is not None else CLIPTokenizer()
        self.max_length = max_length

    def __call__(self, text=None, images=None, text_input=None, image_input=None, padding=None, truncation=True,
                 max_length=None, return_tensors="ms", **unused):
        mindformers = text_input is not None or image_input is not None
        text = text if text is not None else text_input
        images = images if images is not None else image_input
        if text is None and images is None:
            raise TokenizerError("CLIPProcessor needs text (captions) or images, or both")
        max_length = max_length or self.max_length
        out = {}
        if text is not None:
            # MindFormers' processors pad to the context; transformers' pad to the longest caption
            padding = padding if padding is not None else ("max_length" if mindformers else True)
            encoded = self.tokenizer([text] if isinstance(text, str) else list(text), padding=padding,
                                     truncation=truncation, max_length=max_length, return_tensors=return_tensors)
            if mindformers:
                out["text"] = encoded["input_ids"]
            else:
                out["input_ids"], out["attention_mask"] = encoded["input_ids"], encoded["attention_mask"]
        if images is not None:
            pixels = self.image_processor(images, return_tensors=return_tensors)["pixel_values"]
            out["image" if mindformers else "pixel_values"] = pixels
        return out

    def batch_decode(self, *args, **kwargs):
        return self.tokenizer.batch_decode(*args, **kwargs)

    def decode(self, *args, **kwargs):
        return self.tokenizer.decode(*args, **kwargs)

    def save_pretrained(self, save_directory):
        """The tokenizer's files, preprocessor_config.json and processor_config.json."""
        directory = Path(save_directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(directory)
        self.image_processor.save_pretrained(directory)
        write_json(directory / PROCESSOR_CONFIG_NAME, {"processor_class": type(self).__name__,
                                                       "max_length": self.max_length})

    @classmethod
    def from_pretrained(cls, name_or_path, **kwargs):
        """A preset's or a checkpoint directory's image settings and tokenizer."""
        return cls(ImageProcessor.from_pretrained(name_or_path), CLIPTokenizer.from_pretrained(name_or_path),
                   **kwargs)

    def __repr__(self):
        return f"CLIPProcessor(image_processor={self.image_processor!r}, tokenizer={self.tokenizer!r})"
