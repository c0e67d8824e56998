"""`mf launch`: start N processes per node with MindSpore's msrun (replaces the tutorial's rank-table
scripts); each process's output also goes to LOG_DIR/rank_<k>/mindformer.log.

    mf launch --nproc 2 -- mf run --task text_generation --model_type gpt2 --use_parallel True --data_parallel 2
    mf launch --nproc 8 --nnodes 2 --node_rank 0 --master_addr 10.0.0.1 --master_port 8118 -- python task.py ...
"""
import os
import subprocess
import sys
from pathlib import Path


def register(cli):
    parser = cli.add_command("launch", "run a command in N processes per node (MindSpore msrun)", run)
    parser.add_argument("--nproc", type=int, required=True, help="processes on this node")
    parser.add_argument("--nnodes", type=int, default=1, help="number of nodes")
    parser.add_argument("--node_rank", "--node-rank", type=int, default=0, help="this node's index")
    parser.add_argument("--master_addr", "--master-addr", default="127.0.0.1", help="address of node 0")
    parser.add_argument("--master_port", "--master-port", type=int, default=8118, help="a free port on node 0")
    parser.add_argument("--log_dir", "--log-dir", default="output/log",
                        help="per-rank logs go to LOG_DIR/rank_<k>/mindformer.log (msrun's own logs beside them)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds to wait for all processes to connect")
    parser.add_argument("command", nargs="+", help="after --: `mf ...`, `python script.py ...` or `script.py ...`")


def msrun_command(args):
    from ..parallel import worker

    if args.nproc < 1 or args.nnodes < 1:
        raise ValueError("--nproc and --nnodes must be at least 1")
    if not 0 <= args.node_rank < args.nnodes:
        raise ValueError(f"--node_rank must be in [0, {args.nnodes}), got {args.node_rank}")
    log_dir = str(Path(args.log_dir).resolve())
    return [sys.executable, "-m", "mindspore.parallel.cluster.run",
            f"--worker_num={args.nproc * args.nnodes}", f"--local_worker_num={args.nproc}",
            f"--master_addr={args.master_addr}", f"--master_port={args.master_port}",
            f"--node_rank={args.node_rank if args.nnodes > 1 else -1}", f"--log_dir={log_dir}", "--join=True",
            f"--cluster_time_out={args.timeout}", worker.__file__, log_dir, *args.command]


def run(args) -> int:
    command = args.command[1:] if args.command and args.command[0] == "--" else args.command
    args.command = command
    env = dict(os.environ)
    # msrun starts workers with the `python` on PATH: make it this interpreter
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    result = subprocess.run(msrun_command(args), env=env)
    if result.returncode != 0:
        print(f"mf launch: a process failed; see {Path(args.log_dir).resolve()}/rank_*/mindformer.log and "
              f"worker_*.log", file=sys.stderr)
    return result.returncode
