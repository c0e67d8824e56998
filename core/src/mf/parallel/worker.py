"""What `mf launch` runs in each process: the given command, with its output also written to
output/log/rank_<RANK_ID>/mindformer.log as the tutorial's launch scripts arrange.

    python -m mf.parallel.worker LOG_ROOT mf run ...       (an `mf` command, run in this process)
    python -m mf.parallel.worker LOG_ROOT task.py ...       (a Python script)
"""
import os
import runpy
import sys
from pathlib import Path


class _Tee:
    def __init__(self, *streams):
        self.streams = streams

    def write(self, text):
        for stream in self.streams:
            stream.write(text)
            stream.flush()
        return len(text)

    def flush(self):
        for stream in self.streams:
            stream.flush()

    def isatty(self):
        return False


def main(argv):
    log_root, command = Path(argv[0]), argv[1:]
    if not command:
        raise SystemExit("mf.parallel.worker: no command to run")
    rank = os.environ.get("RANK_ID", "0")
    log_dir = log_root / f"rank_{rank}"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / "mindformer.log", "a", encoding="utf-8")
    sys.stdout = _Tee(sys.__stdout__, log)
    sys.stderr = _Tee(sys.__stderr__, log)
    if command[0] == "mf":
        from mf.cli import main as mf_main

        return mf_main(command[1:])
    if command[0] in ("python", "python3"):
        command = command[1:]
    sys.argv = command
    runpy.run_path(command[0], run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
