"""Configuration objects of the tutorial's parallel API."""
from dataclasses import dataclass, field
from typing import List, Optional


@dataclass
class ContextConfig:
    """MindSpore context: mode 0 is graph mode, 1 PyNative; device_target defaults to the device that exists."""
    mode: int = 0
    device_target: Optional[str] = None
    device_id: int = 0
    max_device_memory: Optional[str] = None
    save_graphs: bool = False


@dataclass
class ParallelContextConfig:
    """How processes cooperate (the tutorial's DATA_PARALLEL / SEMI_AUTO_PARALLEL modes)."""
    parallel_mode: str = "DATA_PARALLEL"
    gradients_mean: bool = True
    enable_parallel_optimizer: bool = False
    full_batch: bool = False


@dataclass
class ParallelConfig:
    """Trainer.set_parallel_config: data x model x pipeline parallel, micro-batches, optimizer shard."""
    data_parallel: int = 1
    model_parallel: int = 1
    pipeline_stage: int = 1
    micro_batch_num: int = 1
    optimizer_shard: bool = False

    @property
    def world_size(self) -> int:
        return self.data_parallel * self.model_parallel * self.pipeline_stage


@dataclass
class RecomputeConfig:
    """Trainer.set_recompute_config: recompute activations of transformer blocks in the backward pass."""
    recompute: bool = False
    # block names (e.g. "h.0") or "all"; empty with recompute=True means every block
    select_recompute: List[str] = field(default_factory=list)
    parallel_optimizer_comm_recompute: bool = False
    mp_comm_recompute: bool = True
    recompute_slice_activation: bool = False
