"""Subsets of the distributions, each in a fresh virtual environment (pip reuses its cached wheels)."""
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("install_subset_check.py")


def _check(tmp_path, *plugins):
    result = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "venv"), *plugins], capture_output=True,
                            text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "subset checks passed" in result.stdout


@pytest.mark.slow
def test_core_alone_names_the_missing_distribution(tmp_path):
    _check(tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("plugin", ["mf-llama", "mf-bert", "mf-t5"])
def test_core_and_one_family_without_gpt(tmp_path, plugin):
    """`pip install mf-core mf-<family>` alone works, the family's conformance suite included, with no mf-gpt
    installed."""
    _check(tmp_path, plugin)
