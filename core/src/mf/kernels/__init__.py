"""Fused CPU kernels as MindSpore Custom ops, built from cpu_kernels.cc on first use.

MindSpore's CPU backend is slow on element-wise ops and reductions (GELU, LayerNorm,
the cross entropy over a 50k vocabulary, bias gradients); these kernels do each in
one vectorised, multi-threaded pass. The library is compiled with the machine's C++
compiler into $MF_KERNEL_CACHE/<hash>/ (default ~/.cache/mf/kernels) and reused. Without a compiler, or with
MF_KERNELS=0, every op() returns None and the layers use MindSpore's own ops. It is built for the CPU it runs
on (-march=native) unless MF_KERNEL_ARCH names another target (e.g. haswell: AVX2 code for a portable build,
and how the tests run the AVX2 and plain code paths on an AVX-512 machine). On a CPU with AMX (Intel Xeon Sapphire
Rapids and later) the float32 products run on AMX tiles with float32's accuracy (gemm_kind(); MF_GEMM=fp32 keeps
them on the FMA kernel).
"""
import hashlib
import os
import platform
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Optional
from ..fileio import user_path

SOURCE = Path(__file__).with_name("cpu_kernels.cc")
# -ffast-math for vectorised reductions and exp/tanh, but NaN and inf keep their meaning: a NaN in the logits
# must reach the loss, where the Trainer's NaN stop sees it
FLAGS = ["-O3", "-march=native", "-ffast-math", "-fno-finite-math-only", "-fopenmp", "-fPIC", "-std=c++17"]
# Linked in a second step, without -ffast-math: linking with it adds crtfastmath.o, whose constructor turns on
# flush-to-zero for the whole process when the library loads, and numpy and MindSpore would then lose subnormals
LINK_FLAGS = ["-shared", "-fopenmp"]
# GCC's tuning for Intel's server cores (Sapphire Rapids and kin) vectorises loops 256 bits wide even where AVX-512
# is there: every loop the compiler vectorises itself (GELU, softmax, norms, AdamW) ran at half width, with AVX2's
# tanh and exp from libmvec (GPT-2 small's GELU 1.6 -> 0.9 ms a layer on a 2-core Xeon). The GEMM's explicit
# 512-bit code is not affected; without AVX-512 (-march=haswell) the widest vectors are 256 bits anyway.
X86_FLAGS = ["-mprefer-vector-width=512"]


def _arch() -> str:
    """The -march target: MF_KERNEL_ARCH, default native (the CPU this runs on)."""
    return os.environ.get("MF_KERNEL_ARCH", "native")


def _flags() -> list:
    flags = [f"-march={_arch()}" if flag == "-march=native" else flag for flag in FLAGS]
    if platform.machine().lower() in ("x86_64", "amd64"):
        flags += X86_FLAGS
    return flags


_lock = threading.Lock()
_library: Optional[Path] = None
_failed: Optional[str] = None
_ops = {}


GEMM_CHOICES = ("", "fp32")  # MF_GEMM: unset (AMX where the CPU has it) or fp32 (the FMA kernel always)


def _warn_on_an_unknown_gemm_choice() -> None:
    choice = os.environ.get("MF_GEMM", "")
    if choice not in GEMM_CHOICES:
        warnings.warn(f"MF_GEMM={choice!r} is not a choice the kernels know, so it changes nothing: set MF_GEMM=fp32 "
                      "to keep the products on the FMA kernel, or unset it (AMX where the CPU has it)")


def enabled() -> bool:
    """On unless MF_KERNELS=0, and only on the CPU: on Ascend or GPU MindSpore's own kernels are used."""
    if os.environ.get("MF_KERNELS", "1") in ("0", "false", "no"):
        return False
    return _device_target() == "CPU"


def _device_target() -> str:
    try:
        import mindspore as ms

        return str(ms.get_context("device_target")).upper()
    except Exception:  # an unusable context: the CPU kernels are the safe assumption on this CPU build
        return "CPU"


def kernel_cache() -> Path:
    """Where built libraries are kept: $MF_KERNEL_CACHE, default ~/.cache/mf/kernels."""
    return user_path(os.environ.get("MF_KERNEL_CACHE", "~/.cache/mf/kernels"))


def _cpu_signature() -> str:
    """What -march=native compiles for: the CPU's model and feature lines (x86 "flags", Arm "Features" and part
    numbers), so that a cache shared between machines never hands one CPU a library built for another."""
    keys = ("flags", "Features", "model name", "CPU implementer", "CPU part", "vendor_id")
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            lines = sorted({line.strip() for line in f if line.startswith(keys)})
    except OSError:
        lines = []
    return platform.machine() + "\n" + "\n".join(lines)


def _compiler_command() -> Optional[list]:
    """$CXX split as a shell would ("ccache g++" is two words), else g++ or c++ on PATH."""
    if os.environ.get("CXX"):
        return shlex.split(os.environ["CXX"])
    found = shutil.which("g++") or shutil.which("c++")
    return [found] if found else None


def _fail(reason: str) -> None:
    global _failed
    _failed = reason
    warnings.warn(f"mf kernels disabled: {reason}; using MindSpore's slower ops")


def _checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _is_whole(target: Path) -> bool:
    """A cached library is used only if it matches the checksum written when it was built: loading a truncated
    or emptied .so would crash the process (SIGBUS) or fail in dlopen."""
    sums = target.with_name(target.name + ".sha256")
    try:
        return target.is_file() and sums.read_text().strip() == _checksum(target)
    except OSError:
        return False


def library() -> Optional[Path]:
    """The compiled kernel library, building it if needed; None when it cannot be built (with a warning saying
    why: no compiler, a compiler that does not run, a failed or timed-out build)."""
    global _library
    with _lock:
        if _failed is not None or (_library is not None and _library.is_file()):
            return _library
        _warn_on_an_unknown_gemm_choice()
        # first call, or the cached library was removed (its cache folder recreated) since: find or build it
        compiler = _compiler_command()
        if not compiler:
            return _fail("no C++ compiler (g++) found")
        try:
            version = subprocess.run([*compiler, "--version"], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            return _fail(f"the C++ compiler {' '.join(compiler)!r} does not run ({exc}); set CXX to a working one")
        if version.returncode != 0:
            return _fail(f"'{' '.join(compiler)} --version' failed: {version.stderr.strip()[:200]}")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", _arch()):
            return _fail(f"MF_KERNEL_ARCH={_arch()!r} is not a compiler target name (like native, haswell, "
                         "x86-64-v3 or armv8.2-a); unset it to build for this CPU")
        import mindspore

        # the library depends on its source, flags, CPU, compiler and the MindSpore it is loaded into
        identity = [SOURCE.read_bytes(), " ".join(_flags() + LINK_FLAGS).encode(), _cpu_signature().encode(),
                    version.stdout.encode(), mindspore.__version__.encode()]
        key = hashlib.sha256(b"\0".join(identity)).hexdigest()[:16]
        target = kernel_cache() / key / "libmf_kernels.so"
        if not _is_whole(target):
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                if not os.access(target.parent, os.W_OK):
                    raise PermissionError(f"{target.parent} is not writable")
            except OSError as exc:
                target = Path(tempfile.mkdtemp(prefix="mf-kernels-")) / target.name
                warnings.warn(f"mf kernels: the kernel cache {kernel_cache()} cannot be written ({exc}); building "
                              f"in {target.parent} for this process (set MF_KERNEL_CACHE to a writable folder)")
            if not _build(compiler, target):
                return None
        _library = target
        return _library


def _build(compiler, target: Path) -> bool:
    timeout = float(os.environ.get("MF_KERNEL_COMPILE_TIMEOUT", "600"))
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        built, objects = Path(scratch) / target.name, Path(scratch) / "cpu_kernels.o"
        try:
            result = subprocess.run([*compiler, *_flags(), "-c", str(SOURCE), "-o", str(objects)], capture_output=True,
                                    text=True, timeout=timeout)
            if result.returncode == 0:
                result = subprocess.run([*compiler, *LINK_FLAGS, str(objects), "-o", str(built)], capture_output=True,
                                        text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            _fail(f"compiling {SOURCE.name} took over {timeout:.0f} s (MF_KERNEL_COMPILE_TIMEOUT)")
            return False
        except OSError as exc:
            _fail(f"the C++ compiler {' '.join(compiler)!r} does not run ({exc})")
            return False
        if result.returncode != 0:
            hint = f" (MF_KERNEL_ARCH={_arch()}: a target this compiler knows?)" if _arch() != "native" else ""
            _fail(f"compiling {SOURCE.name} failed{hint}: {result.stderr.strip()[:500]}")
            return False
        sums = Path(scratch) / (target.name + ".sha256")
        sums.write_text(_checksum(built))
        os.replace(built, target)  # atomic: concurrent builders all end with a whole file
        os.replace(sums, target.with_name(target.name + ".sha256"))
    return True


def op(name: str):
    """The Custom op `name` (defined in kernels.ops.build), or None when kernels are disabled or unavailable."""
    if not enabled():
        return None
    lib = library()
    if lib is None:
        return None
    if name in _ops and _ops[name][0] == lib:
        return _ops[name][1]
    from . import ops as specs

    _ops[name] = (lib, specs.build(name, str(lib)))  # built against this library file
    return _ops[name][1]


def gemm_kind() -> Optional[str]:
    """What the kernels' float32 products (Linear layers over more than a few rows, and their gradients) run on:
    "amx-bf16x6" (Intel's AMX tiles, each value split into three bfloat16 so that the result keeps float32's
    accuracy) or "fp32" (AVX-512 / AVX2 FMAs); None without the kernels. MF_GEMM=fp32, set before the first
    product, keeps AMX out."""
    lib = library() if enabled() else None
    if lib is None:
        return None
    import ctypes

    query = ctypes.CDLL(str(lib)).MfGemmKind  # the library MindSpore loaded: the same process-wide answer
    query.restype = ctypes.c_char_p
    return query().decode()


def status() -> str:
    """One line saying whether the fused kernels are in use (and what their products run on)."""
    if not enabled():
        if _device_target() != "CPU":
            return f"mf kernels: not used on {_device_target()} (MindSpore's own kernels run there)"
        return "mf kernels: disabled by MF_KERNELS=0"
    lib = library()
    return f"mf kernels: {lib}, products on {gemm_kind()}" if lib else f"mf kernels: unavailable ({_failed})"
