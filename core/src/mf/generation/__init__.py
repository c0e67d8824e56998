"""Text generation: GenerationConfig, generate() (via GenerationMixin) and streamers."""
from .configuration import GenerationConfig, GenerationError
from .streamers import TextIteratorStreamer, TextStreamer
from .utils import GenerationMixin

__all__ = ["GenerationConfig", "GenerationError", "GenerationMixin", "TextIteratorStreamer", "TextStreamer"]
