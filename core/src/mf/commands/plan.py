"""`mf plan`: which parallel layout to train a model with on N devices.

    mf plan --model llama_65b --devices 64 --device-memory 64GB --seq-length 2048 --global-batch 1024

Prints per-device memory (weights, gradients, optimizer state, activations with and without
recompute) and the step time of the best candidate layouts, then the recommended one as
Trainer calls and as an `mf launch` command. The model is in mf.parallel.plan.
"""
import json
import re

from ..errors import MFError

UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024 ** 2, "mb": 1024 ** 2, "mib": 1024 ** 2,
         "g": 1024 ** 3, "gb": 1024 ** 3, "gib": 1024 ** 3, "t": 1024 ** 4, "tb": 1024 ** 4, "tib": 1024 ** 4}


def parse_memory(text: str) -> float:
    """'64GB', '64GiB', '80G', '512MB' or a byte count -> bytes (GB and GiB both mean 2^30, as device
    memory is quoted)."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
    if not match or match.group(2).lower() not in UNITS:
        raise MFError(f"--device-memory {text!r} is not a size; write it like 64GB, 32GiB or 80G")
    return float(match.group(1)) * UNITS[match.group(2).lower()]


def register(cli):
    parser = cli.add_command("plan", "estimate memory and step time of parallel layouts; recommend one", run)
    parser.add_argument("--model", required=True, help="preset name or model directory")
    parser.add_argument("--devices", type=int, required=True, help="devices in all")
    parser.add_argument("--device-memory", "--device_memory", required=True, help="memory per device, e.g. 64GB")
    parser.add_argument("--global-batch", "--global_batch", type=int, required=True, help="sequences per step")
    parser.add_argument("--seq-length", "--seq_length", type=int, default=None,
                        help="tokens per sequence (default: the model's seq_length)")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16-mixed"],
                        help="fp32 (what mf trains with on CPU) or bf16-mixed (bf16 weights, fp32 master copy)")
    parser.add_argument("--devices-per-node", "--devices_per_node", type=int, default=8)
    parser.add_argument("--tflops", type=float, default=256.0, help="peak matrix-product TFLOP/s per device")
    parser.add_argument("--intra-node-bandwidth", type=float, default=100.0, help="GB/s per device within a node")
    parser.add_argument("--inter-node-bandwidth", type=float, default=25.0, help="GB/s per device between nodes")
    parser.add_argument("--reserve", type=float, default=0.1, help="share of device memory kept free (workspace)")
    parser.add_argument("--top", type=int, default=10, help="how many layouts to list")
    parser.add_argument("--json", action="store_true", help="print every estimate as JSON")


def _gib(value: float) -> str:
    return f"{value / 1024 ** 3:.1f}"


def _row(e) -> str:
    layout, memory = e.layout, e.memory
    micro = f"{layout.micro_batch_num}{'' if layout.pipeline_stage > 1 else 'a'}"
    return (f"{layout.data_parallel:>4}{layout.model_parallel:>4}{layout.pipeline_stage:>4}{micro:>7}"
            f"{'yes' if layout.optimizer_shard else 'no':>6}{'yes' if layout.recompute else 'no':>5}  "
            f"{_gib(memory['weights']):>7}{_gib(memory['gradients']):>7}{_gib(memory['optimizer']):>7}"
            f"{_gib(memory.get('accumulation', 0)):>7}{_gib(memory['temporaries']):>7}"
            f"{_gib(e.activations_without_recompute):>8}"
            f"{_gib(e.activations_with_recompute):>8}{_gib(e.total_memory):>8}  "
            f"{e.flops / 1e12:>9.0f}{e.step_s:>9.1f}  {'yes' if e.fits else 'no'}")


def recommendation_lines(result, model: str) -> list:
    """The recommended layout as Trainer calls and an `mf launch` command line."""
    e = result.recommended
    layout = e.layout
    hardware = result.hardware
    per_node = min(hardware.devices, hardware.devices_per_node)
    nodes = -(-hardware.devices // per_node)
    pipeline = layout.pipeline_stage > 1
    micro = layout.micro_batch_num if pipeline else 1
    batch_size = e.micro_batch_size * (layout.micro_batch_num if pipeline else 1)
    accumulation = layout.accumulation
    flags = (f"--use_parallel True --data_parallel {layout.data_parallel} --model_parallel {layout.model_parallel} "
             f"--pipeline_parallel {layout.pipeline_stage} --micro_size {micro} "
             f"--optimizer_parallel {layout.optimizer_shard} --recompute {layout.recompute} "
             f"--batch_size {batch_size} --gradient_accumulation_steps {accumulation} "
             f"--seq_length {result.seq_length}")
    launch = f"mf launch --nproc {per_node}"
    if nodes > 1:
        launch += f" --nnodes {nodes} --node_rank K --master_addr NODE0 --master_port 8118"
    return [
        f"Recommended: data_parallel={layout.data_parallel} model_parallel={layout.model_parallel} "
        f"pipeline_stage={layout.pipeline_stage} micro_batch_num={micro} gradient_accumulation_steps={accumulation} "
        f"optimizer_shard={layout.optimizer_shard} recompute={layout.recompute}",
        f"  {_gib(e.total_memory)} GiB of {_gib(hardware.device_memory)} GiB per device, "
        f"~{e.step_s:.1f} s per step ({e.compute_s:.1f} s compute, {e.communication_s:.1f} s communication, "
        f"{e.bubble:.0%} pipeline bubble)",
        f"  trainer.set_parallel_config(data_parallel={layout.data_parallel}, model_parallel={layout.model_parallel}, "
        f"pipeline_stage={layout.pipeline_stage}, micro_batch_num={micro}, optimizer_shard={layout.optimizer_shard})",
        f"  trainer.set_recompute_config(recompute={layout.recompute})",
        f"  TrainingArguments(batch_size={batch_size}, gradient_accumulation_steps={accumulation})",
        f"  {launch} -- mf run --model_type {model} --run_mode train --train_dataset DATA {flags}",
    ]


def run(args) -> int:
    from ..auto import AutoConfig
    from ..parallel.plan import Hardware, plan
    from ..plugins import get_registry

    config = AutoConfig.from_pretrained(args.model)
    if not hasattr(config, "transformer_shape"):
        raise MFError(f"model type '{config.model_type}' does not describe its shape (transformer_shape()), "
                      f"so mf plan cannot estimate it")
    if not 0 <= args.reserve < 1:
        raise MFError(f"--reserve must be in [0, 1), got {args.reserve}")
    shape = config.transformer_shape()
    seq_length = args.seq_length or config.seq_length
    hardware = Hardware(devices=args.devices, device_memory=parse_memory(args.device_memory),
                        devices_per_node=args.devices_per_node, tflops=args.tflops,
                        intra_node_gbps=args.intra_node_bandwidth, inter_node_gbps=args.inter_node_bandwidth,
                        reserve=args.reserve)
    sharding = get_registry().family(config.model_type).sharding_plan
    result = plan(shape, config, sharding, hardware, seq_length, args.global_batch, args.precision)
    if args.json:
        print(json.dumps({"model": args.model, "parameters": shape.parameters(), "seq_length": seq_length,
                          "global_batch": args.global_batch, "precision": args.precision,
                          "recommended": result.recommended.to_dict() if result.recommended else None,
                          "estimates": [e.to_dict() for e in result.estimates]}, indent=1, default=str))
        return 0 if result.recommended else 1
    fitting = [e for e in result.estimates if e.fits]
    print(f"{args.model}: {shape.parameters() / 1e9:.2f} B parameters; {args.devices} devices x "
          f"{_gib(hardware.device_memory)} GiB ({hardware.devices_per_node} per node); sequence {seq_length}, "
          f"global batch {args.global_batch}, {args.precision}")
    print(f"{len(result.estimates)} layouts mf can run, {len(fitting)} fit in "
          f"{1 - hardware.reserve:.0%} of device memory. Memory in GiB on the busiest device; step time = "
          f"compute at {hardware.tflops:g} TFLOP/s + communication ({hardware.intra_node_gbps:g} GB/s in a node, "
          f"{hardware.inter_node_gbps:g} between nodes).")
    print("micro: pipeline micro-batches, or gradient accumulation steps (a) without a pipeline; temp: the "
          "step's gradient-sized temporaries; act: activations without / with recompute")
    print(f"{'dp':>4}{'mp':>4}{'pp':>4}{'micro':>7}{'shard':>6}{'rc':>5}  {'weights':>7}{'grads':>7}{'optim':>7}"
          f"{'accum':>7}{'temp':>7}{'act':>8}{'act rc':>8}{'total':>8}  {'TFLOP':>9}{'step s':>9}  fits")
    for e in result.estimates[:args.top]:
        print(_row(e))
    if result.recommended is None:
        least = min(result.estimates, key=lambda e: e.total_memory)
        print(f"No layout fits: the smallest needs {_gib(least.total_memory)} GiB per device. Use more devices, "
              f"devices with more memory, a shorter sequence, or --precision bf16-mixed.")
        return 1
    print()
    for line in recommendation_lines(result, args.model):
        print(line)
    return 0
