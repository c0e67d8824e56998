"""The kernels' AVX2 and plain-C++ code paths give the same answers as the AVX-512 one CI's machine runs.

cpu_kernels.cc has three builds of its GEMM, attention and int8 kernels (AVX-512, AVX2 through -march=haswell,
anything else through GCC's generic vectors); -march=native only ever compiles one of them. MF_KERNEL_ARCH builds
the library for another target, and the kernel, int8 and golden tests run again on it in a subprocess. On a CPU
with AMX the products run on AMX tiles (see AmxTiles in cpu_kernels.cc): there the same tests run once more with
MF_GEMM=fp32, on the AVX-512 float32 micro-kernel."""
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mf import kernels

ROOT = Path(__file__).resolve().parents[2]

KERNEL_TESTS = ["core/tests/test_kernels.py", "tests/test_quantization.py"]
GOLDEN_TESTS = [
    "plugins/mf-gpt/tests/test_modeling.py::test_logits_match_transformers",
    "plugins/mf-gpt/tests/test_modeling.py::test_loss_matches_transformers",
    "plugins/mf-gpt/tests/test_generation.py::test_left_padded_batch_matches_transformers",
    "plugins/mf-llama/tests/test_llama.py::test_logits_match_transformers",
]


def _cpu_flags():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next((set(line.split(":", 1)[1].split()) for line in f if line.startswith("flags")), set())
    except OSError:
        return set()


def _run_with_target(arch, tests, tmp_path, **environment):
    env = {**os.environ, "MF_KERNEL_ARCH": arch, "MF_KERNEL_CACHE": str(tmp_path / "kernels"), **environment}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                          "-W", "error::UserWarning:mf.kernels", *tests],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-2000:]
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary, summary
    libraries = list((tmp_path / "kernels").glob("*/libmf_kernels.so"))
    assert len(libraries) == 1, libraries  # built for this target, in the test's own cache
    return libraries[0]


def _disassembly(library):
    """The library's machine code as text, or "" where objdump is not installed."""
    if not shutil.which("objdump"):
        return ""
    return subprocess.run(["objdump", "-d", str(library)], capture_output=True, text=True).stdout


@pytest.mark.slow
@pytest.mark.skipif(platform.machine() != "x86_64" or "avx2" not in _cpu_flags() or kernels.library() is None,
                    reason="needs an x86-64 CPU with AVX2 and a C++ compiler")
def test_the_avx2_build_passes_the_kernel_int8_and_golden_tests(tmp_path):
    library = _run_with_target("haswell", KERNEL_TESTS + GOLDEN_TESTS, tmp_path)
    code = _disassembly(library)
    if code:  # the library really is AVX2 code, no AVX-512
        assert "%ymm" in code and "%zmm" not in code


@pytest.mark.slow
@pytest.mark.skipif(platform.machine() != "x86_64" or kernels.library() is None,
                    reason="needs an x86-64 CPU and a C++ compiler")
def test_the_plain_x86_64_build_passes_the_kernel_and_int8_tests(tmp_path):
    library = _run_with_target("x86-64", KERNEL_TESTS, tmp_path)
    code = _disassembly(library)
    if code:  # SSE only
        assert "%ymm" not in code and "%zmm" not in code


@pytest.mark.slow
@pytest.mark.skipif(kernels.gemm_kind() != "amx-bf16x6", reason="products run on the float32 micro-kernel here already")
def test_on_an_amx_cpu_the_float32_micro_kernel_passes_the_kernel_int8_and_golden_tests(tmp_path):
    """Where AMX takes the products, MF_GEMM=fp32 is how the AVX-512 float32 micro-kernel still runs (on a CPU
    without AMX, and for anyone who turns AMX off): it must stay right too."""
    _run_with_target("native", KERNEL_TESTS + GOLDEN_TESTS, tmp_path, MF_GEMM="fp32")
