"""Four processes at once build mf's kernels into an empty cache, an unwritable one and a damaged one (issue 19,
item 11): every process ends with working kernels (the same results), a damaged library is rebuilt rather than
loaded, and the cache is left holding one whole library."""
import subprocess
import sys
from pathlib import Path

import pytest

from mf import kernels

pytestmark = pytest.mark.skipif(kernels.library() is None, reason="no C++ compiler to build mf's kernels")

SCRIPT = r'''
import warnings
import numpy as np
import mindspore as ms
ms.set_device("CPU")
from mindspore import Tensor
from mf import kernels

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    op = kernels.op("gelu_tanh")
assert op is not None, kernels.status()
x = Tensor(np.linspace(-3, 3, 64, dtype=np.float32).reshape(8, 8))
print(repr(float(op(x).asnumpy().astype(np.float64).sum())))
print(kernels.library())
for warning in caught:
    print("warning:", warning.message)
'''


def _four_at_once(cache: Path, tmp_path: Path):
    script = tmp_path / "build.py"
    script.write_text(SCRIPT)
    env = {**__import__("os").environ, "MF_KERNEL_CACHE": str(cache)}
    runs = [subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(4)]
    outputs = []
    for run in runs:
        stdout, stderr = run.communicate(timeout=600)
        assert run.returncode == 0, stderr[-3000:]
        outputs.append(stdout.splitlines())
    assert len({lines[0] for lines in outputs}) == 1  # the same kernel, the same numbers
    return outputs


def _libraries(cache: Path):
    return sorted(cache.glob("*/libmf_kernels.so"))


def test_four_processes_fill_an_empty_cache_with_one_whole_library(tmp_path):
    cache = tmp_path / "empty"
    outputs = _four_at_once(cache, tmp_path)
    [library] = _libraries(cache)
    assert all(lines[1] == str(library) for lines in outputs)
    assert kernels._is_whole(library)
    assert not [p for p in library.parent.iterdir() if p.is_dir()]  # no scratch folder left


def test_four_processes_rebuild_a_damaged_library_instead_of_loading_it(tmp_path):
    cache = tmp_path / "damaged"
    _four_at_once(cache, tmp_path)
    [library] = _libraries(cache)
    # truncated: mapping it would kill the process with SIGBUS (an empty or altered library is the same case to
    # the checksum; test_kernels.py covers those in one process)
    library.write_bytes(library.read_bytes()[: library.stat().st_size // 2])
    _four_at_once(cache, tmp_path)
    assert kernels._is_whole(library)


def test_four_processes_with_an_unwritable_cache_build_for_themselves(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    outputs = _four_at_once(blocker / "cache", tmp_path)  # unwritable even for root: its parent is a file
    for lines in outputs:
        assert any("cannot be written" in line for line in lines[2:]), lines
        assert "mf-kernels-" in lines[1]
