"""`mf plan`: per-device memory and step time of candidate parallel layouts, and a recommendation.

The estimates follow what mf runs:
- weights, gradients, AdamW's two moments and two gradient-sized step temporaries per parameter (none where
  mf's in-place AdamW kernel runs; two of a tied embedding's size in its backward pass), the moments (and, in mixed
  precision, the fp32 master weights) split over data-parallel ranks by optimizer_shard (ZeRO-1),
  plus a gradient accumulation buffer when there is more than one micro-batch without a pipeline;
- model_parallel splits the blocks' projections and the vocabulary (Megatron's layout), norms and
  the output projections' biases stay whole; the residual stream is not split;
- pipeline stages run mf's schedule (and, as mf does today, keep the whole model's weights): every micro-batch forward (keeping only each stage's input),
  then every micro-batch backward, recomputing the stage's forward first; so a stage holds the
  inputs of all its micro-batches plus one micro-batch's activations, computes its forward twice
  (the last stage once), and idles (stages - 1) / micro-batches of the step (the bubble);
- activations per token and layer are those mf's blocks keep for the backward pass (see
  `layer_activation_elements`); with recompute only each block's input is kept, and one block's
  activations are rebuilt at a time in the backward pass, after the logits are freed.
Time is compute at the device's peak plus communication at the given bandwidths, not overlapped
(mf's CPU path does not overlap them); it ranks layouts, it does not promise a step time.
"""
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional

from .config import ParallelConfig
from .distributed import ParallelError
from .shape import TransformerShape
from .tensor_parallel import split_range

GB = 1024 ** 3

# bytes per parameter: weights, gradients, optimizer state (AdamW moments, plus fp32 master
# weights in mixed precision), and per activation element
PRECISIONS = {
    "fp32": dict(weight=4, grad=4, optimizer=8, activation=4),
    "bf16-mixed": dict(weight=2, grad=2, optimizer=12, activation=2),
}


@dataclass(frozen=True)
class Hardware:
    devices: int
    device_memory: float          # bytes
    devices_per_node: int = 8
    tflops: float = 256.0         # peak dense matrix-product throughput per device, in the compute precision
    intra_node_gbps: float = 100.0  # GB/s per device inside a node
    inter_node_gbps: float = 25.0   # GB/s per device between nodes
    reserve: float = 0.1          # share of device memory kept for the framework's workspace
    # True where mf's AdamW kernel runs (the CPU with mf.kernels): it clips, decays and steps each parameter in
    # place, with no gradient-sized temporaries; elsewhere MindSpore's Adam needs two (see estimate)
    in_place_update: bool = False


@dataclass(frozen=True)
class Layout:
    data_parallel: int = 1
    model_parallel: int = 1
    pipeline_stage: int = 1
    micro_batch_num: int = 1       # pipeline micro-batches; without a pipeline, gradient accumulation steps
    optimizer_shard: bool = False
    recompute: bool = False

    @property
    def accumulation(self) -> int:
        return self.micro_batch_num if self.pipeline_stage == 1 else 1

    def parallel_config(self) -> ParallelConfig:
        micro = self.micro_batch_num if self.pipeline_stage > 1 else 1
        return ParallelConfig(self.data_parallel, self.model_parallel, self.pipeline_stage, micro,
                              self.optimizer_shard)


@dataclass
class Estimate:
    layout: Layout
    micro_batch_size: int                      # sequences per micro-batch per data-parallel rank
    parameters: int                            # on the busiest device
    memory: Dict[str, float] = field(default_factory=dict)   # bytes by part, on the busiest device
    activations_without_recompute: float = 0.0
    activations_with_recompute: float = 0.0
    flops: float = 0.0                         # per device per step
    communication: float = 0.0                 # bytes per device per step
    compute_s: float = 0.0
    communication_s: float = 0.0
    bubble: float = 0.0                        # share of the step a pipeline stage idles
    step_s: float = 0.0
    fits: bool = False

    @property
    def total_memory(self) -> float:
        return sum(self.memory.values())

    def to_dict(self) -> dict:
        out = asdict(self)
        out["total_memory"] = self.total_memory
        return out


# Score-sized [heads, keys] tensors per token that MindSpore's own attention ops keep alive until
# the backward pass (measured with mindspore 2.10 on CPU); mf uses them only when attention dropout
# is on, since its fused kernel has no dropout.
UNFUSED_ATTENTION_SCORE_COPIES = 12


def layer_activation_elements(shape: TransformerShape, seq_length: int, model_parallel: int = 1) -> float:
    """Elements one block keeps per token for its backward pass, on one model-parallel rank.

    What mf's blocks keep: each norm's input and output (4 h: the fused norms keep their input,
    the next projection its input); the attention's q, k, v and output (the fused attention keeps
    no score matrix and the fused rotary nothing); the MLP's up (and gate) outputs and the
    activation's output. Measured on this machine within a few percent (tests/test_plan_memory.py)."""
    h, f, t = shape.hidden_size, shape.ffn_hidden_size, model_parallel
    q, kv = shape.query_width, shape.kv_width
    elements = 4 * h + (q + 2 * kv) / t + q / t + (3 if shape.gated_mlp else 2) * f / t
    if shape.attention_dropout > 0:
        elements += UNFUSED_ATTENTION_SCORE_COPIES * shape.num_heads * seq_length / t
    return elements


def head_activation_elements(shape: TransformerShape, model_parallel: int = 1) -> float:
    """Per token at the LM head: the final norm's input and output, the logits and their gradient."""
    return 2 * shape.hidden_size + 2 * shape.vocab_rows(model_parallel)


def _stage_layers(num_layers: int, stages: int) -> List[int]:
    return [end - start for start, end in (split_range(num_layers, s, stages) for s in range(stages))]


def _allreduce_bytes(size: float, ranks: int) -> float:
    """Bytes each rank sends in a ring AllReduce of `size` bytes."""
    return 0.0 if ranks == 1 else 2.0 * (ranks - 1) / ranks * size


def estimate(shape: TransformerShape, layout: Layout, hardware: Hardware, seq_length: int, global_batch: int,
             precision: str = "fp32") -> Estimate:
    """Memory on the busiest device and the step time of one layout (global_batch sequences per step)."""
    sizes = PRECISIONS[precision]
    dp, mp, pp, micro = layout.data_parallel, layout.model_parallel, layout.pipeline_stage, layout.micro_batch_num
    micro_batch = global_batch // (dp * micro)
    micro_tokens = micro_batch * seq_length
    layer_params = shape.layer_parameters(mp)
    layer_acts = layer_activation_elements(shape, seq_length, mp)
    head_acts = head_activation_elements(shape, mp)
    # per token and layer: 2 flops per weight in a product, and attention's q.k and p.v over the
    # visible half of the keys (the fused kernel skips the hidden half of a causal mask)
    layer_flops = 2 * (layer_params - 2 * shape.norm_parameters()) + 2 * 2 * seq_length / 2 * shape.query_width / mp
    head_flops = 2 * shape.vocab_rows(mp) * shape.hidden_size

    stages = []
    for stage, layers in enumerate(_stage_layers(shape.num_layers, pp)):
        first, last = stage == 0, stage == pp - 1
        params = layers * layer_params
        params += shape.embedding_parameters(mp) if first else 0
        if last:
            params += shape.head_parameters(mp)
            if shape.tied_embeddings and not first:
                params += shape.vocab_rows(mp) * shape.hidden_size  # the last stage's copy of the tied embedding
        # mf builds the whole model on every rank; a pipeline stage trains only its part but keeps
        # the other stages' weights too (tensor parallelism replaces the full layers by slices)
        held = shape.parameters() if pp > 1 else params
        memory = {
            "weights": held * sizes["weight"],
            "gradients": params * sizes["grad"],
            "optimizer": params * sizes["optimizer"] / (dp if layout.optimizer_shard else 1),
        }
        if layout.accumulation > 1:
            memory["accumulation"] = params * sizes["grad"]
        # without the in-place kernel, mf's step writes the clipped gradients to a new buffer and the decay one
        # more of parameter size, both alive at the optimizer step; a tied embedding's gradient is the sum of
        # two partial ones (lookup and head), alive together in the backward pass. The larger of the two peaks
        # (measured: tests/test_plan_memory.py).
        optimizer_step = 0.0 if hardware.in_place_update else 2 * params
        tied_rows = shape.vocab_rows(mp) if shape.tied_embeddings and first and last else 0
        memory["temporaries"] = max(optimizer_step, 2 * tied_rows * shape.hidden_size) * sizes["grad"]
        # activations, in elements
        block_inputs = shape.hidden_size * layers * micro_tokens
        one_block = layer_acts * micro_tokens
        head = head_acts * micro_tokens if last else 0.0
        kept_inputs = shape.hidden_size * micro_tokens * micro if pp > 1 else 0.0  # each micro-batch's stage input
        acts_without = (kept_inputs + layers * one_block + head) * sizes["activation"]
        # with recompute the logits are gone before the first block is rebuilt: the peak is the larger
        acts_with = (kept_inputs + block_inputs + max(one_block, head)) * sizes["activation"]
        memory["activations"] = acts_with if layout.recompute else acts_without

        # compute: forward 1x, backward 2x; recompute adds a forward of the blocks; mf's pipeline
        # recomputes a stage's forward in its backward pass (all but the last stage)
        forwards = 1 + (1 if layout.recompute else 0) + (1 if pp > 1 and not last else 0)
        tokens = micro_tokens * micro
        flops = tokens * layers * layer_flops * (forwards + 2) + (tokens * head_flops * 3 if last else 0)
        bubble = (pp - 1) / (micro + pp - 1) if pp > 1 else 0.0
        compute_s = flops / (hardware.tflops * 1e12) / (1 - bubble)

        # communication: gradients over dp (and the updated shards gathered back with optimizer_shard);
        # model-parallel AllReduces of [tokens, hidden] (2 per block per forward, 2 per backward);
        # pipeline transfers (AllReduce over a pair) of each micro-batch's activations and gradients
        # across each of the stage's boundaries
        node = hardware.devices_per_node
        dp_bandwidth = hardware.intra_node_gbps if dp * mp <= node else hardware.inter_node_gbps
        mp_bandwidth = hardware.intra_node_gbps if mp <= node else hardware.inter_node_gbps
        pp_bandwidth = hardware.intra_node_gbps if dp * mp * pp <= node else hardware.inter_node_gbps
        dp_bytes = _allreduce_bytes(params * sizes["grad"], dp)
        if layout.optimizer_shard:
            dp_bytes += _allreduce_bytes(params * sizes["weight"], dp)
        activation_bytes = tokens * shape.hidden_size * sizes["activation"]
        mp_bytes = _allreduce_bytes(activation_bytes, mp) * layers * 2 * (forwards + 1)
        boundaries = 0 if pp == 1 else (1 if first or last else 2)
        pp_bytes = boundaries * 2 * activation_bytes
        communication_s = (dp_bytes / dp_bandwidth + mp_bytes / mp_bandwidth + pp_bytes / pp_bandwidth) / 1e9

        stage_estimate = Estimate(
            layout=layout, micro_batch_size=micro_batch, parameters=params, memory=memory,
            activations_without_recompute=acts_without, activations_with_recompute=acts_with,
            flops=flops, communication=dp_bytes + mp_bytes + pp_bytes, compute_s=compute_s,
            communication_s=communication_s, bubble=bubble, step_s=compute_s + communication_s)
        stage_estimate.fits = stage_estimate.total_memory <= hardware.device_memory * (1 - hardware.reserve)
        stages.append(stage_estimate)
    # report the stage with the most memory; the step takes as long as the slowest stage
    busiest = max(stages, key=lambda e: e.total_memory)
    slowest = max(stages, key=lambda e: e.step_s)
    busiest.step_s, busiest.flops = slowest.step_s, slowest.flops
    busiest.compute_s, busiest.communication_s = slowest.compute_s, slowest.communication_s
    return busiest


def _divisors(n: int) -> List[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def candidate_layouts(shape: TransformerShape, config, plan, devices: int, global_batch: int) -> List[Layout]:
    """Every layout mf can run for this model, device count and global batch (checked with the
    same rules the Trainer applies)."""
    from .validation import validate_parallel

    layouts = []
    for dp in _divisors(devices):
        if global_batch % dp:
            continue
        per_rank = global_batch // dp
        for mp in _divisors(devices // dp):
            pp = devices // (dp * mp)
            for micro in _divisors(per_rank):
                if pp > 1 and micro < pp:
                    continue  # fewer micro-batches than stages leaves stages idle most of the step
                for shard in (False, True):
                    layout = Layout(dp, mp, pp, micro, shard, False)
                    try:
                        validate_parallel(layout.parallel_config(), devices, config, plan,
                                          batch_size=per_rank // layout.accumulation,
                                          accumulation=layout.accumulation)
                    except ParallelError:
                        continue
                    layouts.append(layout)
                    layouts.append(Layout(dp, mp, pp, micro, shard, True))
    return layouts


@dataclass
class PlanResult:
    estimates: List[Estimate]        # every candidate, fastest first among those that fit
    recommended: Optional[Estimate]
    hardware: Hardware
    seq_length: int
    global_batch: int
    precision: str


def plan(shape: TransformerShape, config, sharding_plan, hardware: Hardware, seq_length: int, global_batch: int,
         precision: str = "fp32") -> PlanResult:
    """Estimate every candidate layout; recommend the fastest that fits, with the least memory on ties."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if global_batch < 1 or seq_length < 1 or hardware.devices < 1:
        raise ValueError("devices, seq_length and global_batch must be at least 1")
    layouts = candidate_layouts(shape, config, sharding_plan, hardware.devices, global_batch)
    if not layouts:
        raise ParallelError(f"no layout of {hardware.devices} devices suits this model and a global batch of "
                            f"{global_batch}; use a global batch divisible by the device count")
    estimates = [estimate(shape, layout, hardware, seq_length, global_batch, precision) for layout in layouts]
    estimates.sort(key=lambda e: (not e.fits, e.step_s if e.fits else e.total_memory, e.total_memory))
    recommended = estimates[0] if estimates[0].fits else None
    return PlanResult(estimates, recommended, hardware, seq_length, global_batch, precision)
