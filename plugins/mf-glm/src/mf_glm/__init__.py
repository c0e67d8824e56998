"""mf-glm: GLM-6B (the ChatGLM-6B architecture) for mf."""
from .chat import build_prompt, process_response
from .configuration import GLMConfig
from .metrics import adgen_scores
from .modeling import GLMForCausalLM, GLMModel
from .tokenization import ChatGLMTokenizer

__version__ = "0.1.0"
__all__ = ["GLMConfig", "GLMModel", "GLMForCausalLM", "ChatGLMTokenizer", "adgen_scores", "build_prompt",
           "process_response"]
