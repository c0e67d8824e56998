"""Subsets of the distributions, each in a fresh virtual environment (pip reuses its cached wheels)."""
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("install_subset_check.py")


FAMILIES = ["mf-llama", "mf-bert", "mf-t5", "mf-vision", "mf-glm"]


@pytest.mark.slow
def test_core_alone_then_each_family_alone_without_gpt(tmp_path):
    """`pip install mf-core` alone names the missing distribution; then `pip install mf-core mf-<family>`
    alone works for each family in turn (installed, checked with its conformance suite, uninstalled), with no
    mf-gpt installed. One environment: MindSpore is installed once."""
    result = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "venv"), "--one-at-a-time", *FAMILIES],
                            capture_output=True, text=True, timeout=3000)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for family in FAMILIES:
        assert f"subset checks passed: mf-core {family}" in result.stdout
