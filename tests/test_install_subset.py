"""mf-core alone, in a fresh virtual environment (pip reuses its cached wheels)."""
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_core_alone_names_the_missing_distribution(tmp_path):
    script = Path(__file__).with_name("install_subset_check.py")
    result = subprocess.run([sys.executable, str(script), str(tmp_path / "venv")], capture_output=True, text=True,
                            timeout=1200)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "subset checks passed" in result.stdout
