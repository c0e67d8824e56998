"""What `mf launch` runs in each process: the given command, with its output also written to
output/log/rank_<RANK_ID>/mindformer.log as the tutorial's launch scripts arrange.

    python -m mf.parallel.worker LOG_ROOT mf run ...                 (an `mf` command, run in this process)
    python -m mf.parallel.worker LOG_ROOT task.py ...                 (a Python script)
    python -m mf.parallel.worker LOG_ROOT /opt/py/bin/python3.11 task.py ...   (any interpreter path; -m too)
    python -m mf.parallel.worker LOG_ROOT ./train.sh ...              (any other program, output teed)
"""
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

_PYTHON = re.compile(r"^python(\d+(\.\d+)*)?$")


def is_python(word: str) -> bool:
    """A Python interpreter named by word or path (python, python3.11, /venv/bin/python, ...)."""
    return bool(_PYTHON.match(os.path.basename(word)))


def _same_interpreter(word: str) -> bool:
    if os.path.basename(word) == word:  # a bare name: msrun put this interpreter first on PATH
        return True
    try:
        return os.path.samefile(word, sys.executable) or os.path.realpath(word) == os.path.realpath(sys.executable)
    except OSError:
        return False


def _run_program(command) -> int:
    """Run another program, copying its output to this process's (teed) streams."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        sys.stdout.write(line)
    return process.wait()


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
    if os.environ.get("MS_ROLE") == "MS_SCHED":
        return _schedule()
    rank = os.environ.get("RANK_ID", "0")
    log_dir = log_root / f"rank_{rank}"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / "mindformer.log", "a", encoding="utf-8")
    sys.stdout = _Tee(sys.__stdout__, log)
    sys.stderr = _Tee(sys.__stderr__, log)
    if command[0] == "mf":
        from mf.cli import main as mf_main

        return mf_main(command[1:])
    if is_python(command[0]):
        if not _same_interpreter(command[0]):  # another environment's Python: run it as a program
            return _run_program(command)
        command = command[1:]
        if command[:1] == ["-m"] and len(command) > 1:
            sys.argv = command[1:]
            runpy.run_module(command[1], run_name="__main__", alter_sys=True)
            return 0
    if not command:
        raise SystemExit("mf launch: nothing to run after the interpreter")
    script = command[0]
    if not script.endswith(".py") and os.access(script, os.X_OK) and not _is_python_source(script):
        return _run_program(command)  # a binary or shell script: running it as Python would fail
    if not Path(script).is_file():
        raise SystemExit(f"mf launch: no such script: {script}")
    sys.argv = command
    runpy.run_path(command[0], run_name="__main__")
    return 0


def _schedule() -> int:
    """msrun's scheduler process runs the same command line; all it has to do is coordinate the workers.
    When they fail it times out: that is reported by `mf launch` from the workers' logs, not here."""
    from mindspore.communication import init

    try:
        init()
    except RuntimeError:
        if os.environ.get("MF_LAUNCH_VERBOSE"):
            raise
        return 1
    return 0


def _is_python_source(path: str) -> bool:
    """A script without the .py ending that is Python (its first line names a Python interpreter)."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline(200)
    except OSError:
        return False
    return first.startswith(b"#!") and b"python" in first


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
