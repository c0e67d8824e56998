"""PanGu-Alpha (Zeng et al. 2021) for mf: a GPT decoder whose top layer queries with position embeddings."""
from .configuration import PanguAlphaConfig
from .modeling import PanguAlphaHeadModel, PanguAlphaModel
from .processing import PanguAlphaProcessor
from .tokenization import PanguAlphaTokenizer

__all__ = ["PanguAlphaConfig", "PanguAlphaModel", "PanguAlphaHeadModel", "PanguAlphaTokenizer",
           "PanguAlphaProcessor"]
