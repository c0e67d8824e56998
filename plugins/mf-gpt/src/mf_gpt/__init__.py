"""mf-gpt: the GPT family for mf — GPT-2, BLOOM and PanGu-Alpha."""
from .bloom import BloomConfig, BloomForCausalLM, BloomModel, BloomTokenizer
from .configuration import GPT2Config
from .modeling import GPT2LMHeadModel, GPT2Model
from .pangualpha import (PanguAlphaConfig, PanguAlphaHeadModel, PanguAlphaModel, PanguAlphaProcessor,
                         PanguAlphaTokenizer)
from .processing import GPT2Processor
from .tokenization import GPT2Tokenizer

BloomLMHeadModel = BloomForCausalLM  # MindFormers' name
GPTPanguForCausalLM = PanguAlphaHeadModel  # the Hugging Face port's name

__version__ = "0.1.0"
__all__ = ["GPT2Config", "GPT2Model", "GPT2LMHeadModel", "GPT2Tokenizer", "GPT2Processor",
           "BloomConfig", "BloomModel", "BloomForCausalLM", "BloomLMHeadModel", "BloomTokenizer",
           "PanguAlphaConfig", "PanguAlphaModel", "PanguAlphaHeadModel", "GPTPanguForCausalLM",
           "PanguAlphaTokenizer", "PanguAlphaProcessor"]
