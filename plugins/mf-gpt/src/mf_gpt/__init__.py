"""mf-gpt: the GPT-2 family for mf."""
from .configuration import GPT2Config
from .modeling import GPT2LMHeadModel, GPT2Model
from .processing import GPT2Processor
from .tokenization import GPT2Tokenizer

__version__ = "0.1.0"
__all__ = ["GPT2Config", "GPT2Model", "GPT2LMHeadModel", "GPT2Tokenizer", "GPT2Processor"]
