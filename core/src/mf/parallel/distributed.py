"""Multi-process runs started by `mf launch` (msrun)."""
import os

from ..errors import MFError


class ParallelError(MFError, ValueError):
    """A parallel configuration that cannot work."""


def world_size() -> int:
    """Number of processes in this run (1 when not launched by msrun)."""
    for name in ("MS_WORKER_NUM", "RANK_SIZE"):
        if os.environ.get(name):
            return int(os.environ[name])
    return 1


def init_distributed(parallel_config):
    """Initialise MindSpore communication; returns (rank_id, device_num)."""
    if world_size() == 1 and not os.environ.get("MS_ROLE"):
        raise ParallelError("init_context(use_parallel=True) needs processes started by `mf launch --nproc N` "
                            "(MindSpore's msrun); this process was started alone")
    raise ParallelError("distributed training is not available in this version of mf")
