"""Multi-process runs started by `mf launch` (MindSpore's msrun), and the process topology.

Ranks are laid out pipeline-major, model-parallel fastest:
    rank = pp_rank * (dp * mp) + dp_rank * mp + mp_rank
so a model-parallel group is mp consecutive ranks, a data-parallel group holds the ranks with
the same (pp, mp) coordinates, and a pipeline group the ranks with the same (dp, mp).
"""
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ..errors import MFError


class ParallelError(MFError, ValueError):
    """A parallel configuration that cannot work."""


_initialised = False
_groups: Dict[Tuple[int, ...], str] = {}


def world_size() -> int:
    """Number of processes in this run (1 when not launched by msrun)."""
    if _initialised:
        from mindspore.communication import get_group_size

        return get_group_size()
    for name in ("MS_WORKER_NUM", "RANK_SIZE"):
        if os.environ.get(name):
            return int(os.environ[name])
    return 1


def rank() -> int:
    if _initialised:
        from mindspore.communication import get_rank

        return get_rank()
    return int(os.environ.get("RANK_ID", os.environ.get("MS_NODE_ID", 0)) or 0)


def is_distributed() -> bool:
    return _initialised and world_size() > 1


def init_distributed(parallel_config=None) -> Tuple[int, int]:
    """Initialise MindSpore communication; returns (rank_id, device_num)."""
    global _initialised
    if not os.environ.get("MS_ROLE") and world_size() == 1:
        raise ParallelError("init_context(use_parallel=True) needs processes started by `mf launch --nproc N` "
                            "(MindSpore's msrun); this process was started alone")
    if not _initialised:
        from mindspore.communication import init

        init()
        _initialised = True
    if parallel_config is not None and str(parallel_config.parallel_mode).upper() not in (
            "DATA_PARALLEL", "SEMI_AUTO_PARALLEL", "AUTO_PARALLEL", "HYBRID_PARALLEL", "STAND_ALONE"):
        raise ParallelError(f"parallel_mode '{parallel_config.parallel_mode}' is unknown; use DATA_PARALLEL or "
                            f"SEMI_AUTO_PARALLEL")
    return rank(), world_size()


def group(ranks: List[int]) -> Optional[str]:
    """A communication group over `ranks` (None when it is the whole world), created once.

    Every rank of the world calls this for the same groups in the same order (MindSpore needs
    each member to create it); ranks outside a group skip the creation.
    """
    ranks = sorted(ranks)
    if len(ranks) == world_size():
        return None  # the world group: AllGather and Broadcast work only on it
    key = tuple(ranks)
    if key not in _groups:
        name = "mf_" + "_".join(map(str, ranks))
        if rank() in ranks:
            from mindspore.communication import create_group

            create_group(name, list(ranks))
        _groups[key] = name
    return _groups[key]


@dataclass(frozen=True)
class Topology:
    """Where this rank sits in a dp x mp x pp layout."""
    dp: int = 1
    mp: int = 1
    pp: int = 1
    rank: int = 0

    @property
    def size(self) -> int:
        return self.dp * self.mp * self.pp

    @property
    def mp_rank(self) -> int:
        return self.rank % self.mp

    @property
    def dp_rank(self) -> int:
        return (self.rank // self.mp) % self.dp

    @property
    def pp_rank(self) -> int:
        return self.rank // (self.mp * self.dp)

    def rank_of(self, dp_rank: int, mp_rank: int, pp_rank: int) -> int:
        return pp_rank * self.dp * self.mp + dp_rank * self.mp + mp_rank

    def mp_ranks(self, rank=None):
        rank = self.rank if rank is None else rank
        base = rank - rank % self.mp
        return list(range(base, base + self.mp))

    def dp_ranks(self, rank=None):
        t = Topology(self.dp, self.mp, self.pp, self.rank if rank is None else rank)
        return [t.rank_of(d, t.mp_rank, t.pp_rank) for d in range(self.dp)]

    def pp_ranks(self, rank=None):
        t = Topology(self.dp, self.mp, self.pp, self.rank if rank is None else rank)
        return [t.rank_of(t.dp_rank, t.mp_rank, p) for p in range(self.pp)]

    def create_groups(self):
        """Create every group of this layout, in the same order on every rank."""
        names = {}
        for r in range(self.size):
            for kind, ranks in (("mp", self.mp_ranks(r)), ("dp", self.dp_ranks(r)), ("pp", self.pp_ranks(r))):
                if len(ranks) > 1:
                    name = group(ranks)
                    if r == self.rank:
                        names[kind] = name
        for stage in range(self.pp - 1):  # neighbouring pipeline stages exchange activations in pairs
            for r in range(self.size):
                t = Topology(self.dp, self.mp, self.pp, r)
                if t.pp_rank == stage:
                    pair = [r, t.rank_of(t.dp_rank, t.mp_rank, stage + 1)]
                    name = group(pair)
                    if self.rank in pair:
                        names[("pp_pair", stage)] = name
        return names
