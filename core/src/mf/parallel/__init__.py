"""Context and parallel configuration with the tutorial's names (init_context, ContextConfig, ...)."""
from .config import ContextConfig, ParallelConfig, ParallelContextConfig, RecomputeConfig
from .context import init_context

__all__ = ["ContextConfig", "ParallelConfig", "ParallelContextConfig", "RecomputeConfig", "init_context"]
