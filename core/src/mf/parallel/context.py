"""init_context: set up MindSpore for one process or for a distributed run."""
import warnings
from typing import Optional, Tuple

import mindspore as ms

from .config import ContextConfig, ParallelContextConfig


def _device_that_exists(requested: Optional[str]) -> str:
    """The requested device if this MindSpore build can use it, else CPU (with a warning), so that
    scripts written for Ascend (as the tutorial's are) run unchanged on a CPU machine."""
    if not requested or requested.upper() == "CPU":
        return "CPU"
    if ms.hal.is_available(requested):
        return requested
    warnings.warn(f"device_target '{requested}' is not available in this MindSpore build; running on CPU")
    return "CPU"


def init_context(use_parallel: bool = False, context_config: Optional[ContextConfig] = None,
                 parallel_config: Optional[ParallelContextConfig] = None) -> Tuple[int, int]:
    """Configure MindSpore; returns (rank_id, device_num)."""
    context_config = context_config or ContextConfig()
    if context_config.mode not in (0, 1):
        raise ValueError(f"ContextConfig.mode must be 0 (graph) or 1 (PyNative), got {context_config.mode}")
    device = _device_that_exists(context_config.device_target)
    ms.set_device(device)
    ms.set_context(mode=ms.GRAPH_MODE if context_config.mode == 0 else ms.PYNATIVE_MODE)
    if not use_parallel:
        return 0, 1
    from .distributed import init_distributed

    return init_distributed(parallel_config or ParallelContextConfig())
