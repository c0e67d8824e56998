"""The benchmarks' own virtual environment with PyTorch and transformers (never a dependency of mf)."""
import os
import subprocess
import sys
import venv
from pathlib import Path

REFERENCE_PACKAGES = ["torch==2.13.0", "transformers", "numpy<2", "safetensors"]


def reference_python() -> Path:
    """Python of $MF_BENCH_TORCH_VENV (default benchmarks/.venv-torch), created on first use."""
    root = Path(os.environ.get("MF_BENCH_TORCH_VENV", Path(__file__).with_name(".venv-torch")))
    python = root / "bin" / "python"
    if not python.exists():
        print(f"creating the PyTorch reference venv in {root} (once)", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(root)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *REFERENCE_PACKAGES], check=True)
    return python


# OpenMP settings that `import mf` puts into this process's environment for MindSpore (mf/__init__.py): the
# reference runs with PyTorch's own defaults, not with mf's tuning (before 2026-12-04 it inherited them, and
# PyTorch decoded up to 3x slower under mf's OMP_WAIT_POLICY=PASSIVE)
MF_OPENMP_SETTINGS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def run_reference(script: str, *args, python=None) -> str:
    """Run a script of this folder with the reference Python (or `python`, one that has PyTorch already);
    returns its stdout."""
    env = {name: value for name, value in os.environ.items() if name not in MF_OPENMP_SETTINGS}
    python = python or reference_python()
    result = subprocess.run([str(python), str(Path(__file__).with_name(script)), *map(str, args)],
                            capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{script} failed:\n{result.stderr}")
    return result.stdout
