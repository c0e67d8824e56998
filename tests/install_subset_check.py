"""Install a subset of the distributions into a fresh virtual environment and check what a user sees.

    python tests/install_subset_check.py VENV_DIR                       # mf-core alone
    python tests/install_subset_check.py VENV_DIR mf-llama              # mf-core + mf-llama, and its conformance

GPT-2 names must say to install mf-gpt, `mf plugins` must report nothing broken and list
exactly the installed distributions, and an installed plugin's conformance suite (mf.testing: loading,
tokenizer, generation, training on core's tasks) must pass there. Its other tests run in the main
environment; running them again per subset would double the suite's time for little more evidence.
Exits non-zero with the failing check on stderr.
"""
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHECKS = r'''
import sys
from mf import AutoModel

try:
    from mf import GPT2LMHeadModel
    sys.exit("from mf import GPT2LMHeadModel worked without mf-gpt")
except ImportError as exc:
    assert "pip install mf-gpt" in str(exc), exc

try:
    AutoModel.from_pretrained("gpt2")
    sys.exit("AutoModel.from_pretrained('gpt2') worked without mf-gpt")
except KeyError as exc:
    assert "provided by mf-gpt, which is not installed: pip install mf-gpt" in str(exc), exc
print("subset checks passed")
'''


def main(venv_dir: Path, plugins) -> int:
    venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    python = venv_dir / "bin" / "python"
    packages = [str(ROOT / "core")] + [str(ROOT / "plugins" / name) for name in plugins]
    subprocess.run([str(python), "-m", "pip", "install", "-q", *packages, *(["pytest"] if plugins else [])],
                   check=True)
    subprocess.run([str(python), "-c", CHECKS], check=True)
    listing = subprocess.run([str(venv_dir / "bin" / "mf"), "plugins"], capture_output=True, text=True)
    print(listing.stdout)
    if listing.returncode != 0 or "broken" in listing.stdout:
        print(f"`mf plugins` reported a problem:\n{listing.stdout}{listing.stderr}", file=sys.stderr)
        return 1
    listed = {line.split()[0] for line in listing.stdout.splitlines() if line and not line.startswith(" ")}
    if listed != {"mf-core", *plugins}:
        print(f"`mf plugins` should list mf-core {' '.join(plugins)}, listed {sorted(listed)}", file=sys.stderr)
        return 1
    for name in plugins:
        tests = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                str(ROOT / "plugins" / name / "tests" / "test_conformance.py")], cwd=ROOT)
        if tests.returncode != 0:
            print(f"{name}'s conformance tests failed with only mf-core and {name} installed", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    plugins = sys.argv[2:]
    if len(sys.argv) > 1:
        sys.exit(main(Path(sys.argv[1]), plugins))
    with tempfile.TemporaryDirectory() as scratch:
        sys.exit(main(Path(scratch) / "venv", plugins))
