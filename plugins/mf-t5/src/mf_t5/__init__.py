"""mf-t5: the T5 family for mf."""
from .configuration import T5Config
from .modeling import T5ForConditionalGeneration, T5Model
from .processing import T5Processor
from .tokenization import T5Tokenizer

__version__ = "0.1.0"
__all__ = ["T5Config", "T5Model", "T5ForConditionalGeneration", "T5Tokenizer", "T5Processor"]
