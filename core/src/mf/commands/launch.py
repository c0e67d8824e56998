"""`mf launch`: start N processes per node with MindSpore's msrun (replaces the tutorial's rank-table
scripts); each process's output also goes to LOG_DIR/rank_<k>/mindformer.log.

    mf launch --nproc 2 -- mf run --task text_generation --model_type gpt2 --use_parallel True --data_parallel 2
    mf launch --nproc 8 --nnodes 2 --node_rank 0 --master_addr 10.0.0.1 --master_port 8118 -- python task.py ...
"""
import os
import re
import subprocess
import sys
from pathlib import Path

# MindSpore's own log lines ("[WARNING] ME(123:...) ...") and msrun's process bookkeeping
_NOISE = re.compile(r"^\[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\] [A-Z]+\(\d+|^Start (scheduler|worker) process|"
                    r"^-+$|^- C\+\+ Call Stack|^mindspore/ccsrc/")
_MF_ERROR = re.compile(r"^mf [\w-]+: error: ")


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
    parser.add_argument("--verbose", action="store_true",
                        help="show MindSpore's INFO/WARNING messages and msrun's own output")
    parser.add_argument("command", nargs="+", help="after --: `mf ...`, `python script.py ...` or `script.py ...`")


def msrun_command(args):
    from ..parallel import worker

    if args.nproc < 1 or args.nnodes < 1:
        raise ValueError("--nproc and --nnodes must be at least 1")
    if not 0 <= args.node_rank < args.nnodes:
        raise ValueError(f"--node_rank must be in [0, {args.nnodes}), got {args.node_rank}")
    log_dir = str(Path(args.log_dir).resolve())
    return [sys.executable, "-m", "mf.parallel.msrun",
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
    # os.environ already holds mf's OpenMP settings (mf/__init__.py sets them on import): the workers inherit them
    if args.verbose:
        env["MF_LAUNCH_VERBOSE"] = "1"
    else:
        env.setdefault("GLOG_v", "3")  # MindSpore: errors only
    log_dir = Path(args.log_dir).resolve()
    log_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(msrun_command(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, errors="replace")
    with open(log_dir / "launch.log", "w", encoding="utf-8") as record:
        shown = _ConsoleFilter(args.verbose)
        for line in process.stdout:
            record.write(line)
            for kept in shown.feed(line):
                sys.stdout.write(kept)
                sys.stdout.flush()
    returncode = process.wait()
    if returncode != 0:
        explain_failure(log_dir)
    return returncode


class _ConsoleFilter:
    """What of msrun's output reaches the console: everything with --verbose; otherwise the workers'
    own output, without MindSpore's log lines and msrun's traceback of its own (the workers' logs
    say what failed; explain_failure prints that)."""

    def __init__(self, verbose):
        self.verbose = verbose
        self.traceback = None

    def feed(self, line):
        if self.verbose:
            return [line]
        if self.traceback is not None:
            self.traceback.append(line)
            if line[:1] not in (" ", "\t") and not line.startswith("Traceback"):  # the exception line ends it
                block, self.traceback = self.traceback, None
                return [] if any("mindspore/parallel/cluster" in l for l in block) else block
            return []
        if line.startswith("Traceback (most recent call last):"):
            self.traceback = [line]
            return []
        return [] if _NOISE.match(line) else [line]


def explain_failure(log_dir: Path):
    """Print the first failing rank's error and the end of its log."""
    logs = sorted(log_dir.glob("rank_*/mindformer.log"), key=lambda p: p.stat().st_mtime)
    failed = [(log, _error_of(log)) for log in logs]
    failed = [(log, error) for log, error in failed if error]
    if failed:
        log, error = failed[0]
        rank = log.parent.name.split("_")[-1]
        lines = [l for l in log.read_text(encoding="utf-8", errors="replace").splitlines() if not _NOISE.match(l)]
        print(f"\nmf launch: rank {rank} failed: {error}", file=sys.stderr)
        print(f"--- the end of {log} ---", file=sys.stderr)
        print("\n".join(lines[-15:]), file=sys.stderr)
        print("---", file=sys.stderr)
    else:
        print("\nmf launch: a process failed before writing its log (see launch.log and worker_*.log)",
              file=sys.stderr)
    print(f"mf launch: logs of every rank in {log_dir}/rank_*/mindformer.log, msrun's in {log_dir}/worker_*.log; "
          f"--verbose shows MindSpore's messages", file=sys.stderr)


def _error_of(log: Path):
    """The error a rank's log ends with: an mf error line, or the last exception of a traceback."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    for line in reversed(lines):
        if _MF_ERROR.match(line):
            return line
    if any(l.startswith("Traceback") for l in lines):
        exceptions = [l for l in lines if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt)\b", l)]
        return exceptions[-1] if exceptions else "a Python exception (traceback below)"
    return None
