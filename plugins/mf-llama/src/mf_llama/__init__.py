"""mf-llama: the LLaMA family for mf."""
from .configuration import LlamaConfig
from .modeling import LlamaForCausalLM, LlamaModel
from .tokenization import LlamaTokenizer

__version__ = "0.1.0"
__all__ = ["LlamaConfig", "LlamaModel", "LlamaForCausalLM", "LlamaTokenizer"]
