"""Subsets of the distributions, each in a fresh virtual environment (pip reuses its cached wheels)."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("install_subset_check.py")


FAMILIES = ["mf-llama", "mf-bert", "mf-t5", "mf-vision", "mf-glm"]


@pytest.mark.slow
def test_core_alone_then_each_family_alone_without_gpt(tmp_path):
    """`pip install mf-core` alone names the missing distribution; then `pip install mf-core mf-<family>`
    alone works for each family in turn (installed, checked with its conformance suite less its training and decoding checks, uninstalled), with no
    mf-gpt installed. One environment: MindSpore is installed once."""
    result = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "venv"), "--one-at-a-time", *FAMILIES],
                            capture_output=True, text=True, timeout=3000)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for family in FAMILIES:
        assert f"subset checks passed: mf-core {family}" in result.stdout


def test_no_plugin_imports_another_plugin():
    """Each family depends on mf-core alone: an import of another family's package (plain, from, or through
    importlib) would work in the full checkout and fail for a user who installed one family."""
    root = Path(__file__).resolve().parents[1] / "plugins"
    packages = {p.name: p.name.replace("-", "_") for p in root.iterdir() if (p / "pyproject.toml").is_file()}
    found = []
    for name, package in packages.items():
        others = [other for other in packages.values() if other != package]
        for source in (root / name / "src").rglob("*.py"):
            tree = ast.parse(source.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    modules = [node.module or ""]
                elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                    modules = [node.value]  # import_module("mf_x..."), entry-point strings
                else:
                    continue
                found += [f"{source.relative_to(root)}: {m}" for m in modules
                          if any(m == other or m.startswith(other + ".") for other in others)]
    assert len(packages) >= 6 and not found, found
