"""Install only mf-core into a fresh virtual environment and check what a user sees there.

    python tests/install_subset_check.py [VENV_DIR]

Checks that GPT-2 names say to install mf-gpt and that `mf plugins` reports
nothing broken. Exits non-zero with the failing check on stderr.
"""
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHECKS = r'''
import sys
import mf
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


def main(venv_dir: Path) -> int:
    venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    python = venv_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(ROOT / "core")], check=True)
    subprocess.run([str(python), "-c", CHECKS], check=True)
    plugins = subprocess.run([str(venv_dir / "bin" / "mf"), "plugins"], capture_output=True, text=True)
    print(plugins.stdout)
    if plugins.returncode != 0 or "broken" in plugins.stdout:
        print(f"`mf plugins` reported a problem:\n{plugins.stdout}{plugins.stderr}", file=sys.stderr)
        return 1
    if "mf-gpt" in plugins.stdout or "mf-core" not in plugins.stdout:
        print(f"`mf plugins` should list mf-core only:\n{plugins.stdout}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(main(Path(sys.argv[1])))
    with tempfile.TemporaryDirectory() as scratch:
        sys.exit(main(Path(scratch) / "venv"))
