"""Fused CPU kernels as MindSpore Custom ops, built from cpu_kernels.cc on first use.

MindSpore's CPU backend is slow on element-wise ops and reductions (GELU, LayerNorm,
the cross entropy over a 50k vocabulary, bias gradients); these kernels do each in
one vectorised, multi-threaded pass. The library is compiled with the machine's C++
compiler into $MF_KERNEL_CACHE/<hash>/ (default ~/.cache/mf/kernels) and reused. Without a compiler, or with
MF_KERNELS=0, every op() returns None and the layers use MindSpore's own ops.
"""
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Optional

SOURCE = Path(__file__).with_name("cpu_kernels.cc")
FLAGS = ["-O3", "-march=native", "-ffast-math", "-fopenmp", "-shared", "-fPIC", "-std=c++17"]

_lock = threading.Lock()
_library: Optional[Path] = None
_failed: Optional[str] = None
_ops = {}


def enabled() -> bool:
    return os.environ.get("MF_KERNELS", "1") not in ("0", "false", "no")


def kernel_cache() -> Path:
    """Where built libraries are kept: $MF_KERNEL_CACHE, default ~/.cache/mf/kernels."""
    return Path(os.environ.get("MF_KERNEL_CACHE", "~/.cache/mf/kernels")).expanduser()


def _cpu_signature() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next((line for line in f if line.startswith("flags")), platform.machine())
    except OSError:
        return platform.machine()


def library() -> Optional[Path]:
    """The compiled kernel library, building it if needed; None when it cannot be built."""
    global _library, _failed
    with _lock:
        if _library is not None or _failed is not None:
            return _library
        compiler = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
        if compiler is None:
            _failed = "no C++ compiler (g++) found"
            warnings.warn(f"mf kernels disabled: {_failed}; using MindSpore's slower ops")
            return None
        source = SOURCE.read_bytes()
        key = hashlib.sha256(source + " ".join(FLAGS).encode() + _cpu_signature().encode()).hexdigest()[:16]
        target = kernel_cache() / key / "libmf_kernels.so"
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
                built = Path(scratch) / target.name
                result = subprocess.run([compiler, *FLAGS, str(SOURCE), "-o", str(built)],
                                        capture_output=True, text=True)
                if result.returncode != 0:
                    _failed = f"compiling {SOURCE.name} failed: {result.stderr.strip()[:500]}"
                    warnings.warn(f"mf kernels disabled: {_failed}")
                    return None
                os.replace(built, target)  # atomic: concurrent builders all end with a whole file
        _library = target
        return _library


def op(name: str):
    """The Custom op `name` (see _SPECS), or None when kernels are disabled or unavailable."""
    if not enabled():
        return None
    if name in _ops:
        return _ops[name]
    lib = library()
    if lib is None:
        return None
    from . import ops as specs

    _ops[name] = specs.build(name, str(lib))
    return _ops[name]


def status() -> str:
    """One line saying whether the fused kernels are in use."""
    if not enabled():
        return "mf kernels: disabled by MF_KERNELS=0"
    lib = library()
    return f"mf kernels: {lib}" if lib else f"mf kernels: unavailable ({_failed})"
