"""Install a subset of the distributions into a fresh virtual environment and check what a user sees.

    python tests/install_subset_check.py VENV_DIR                       # mf-core alone
    python tests/install_subset_check.py VENV_DIR mf-llama              # then mf-core + mf-llama, its conformance
    python tests/install_subset_check.py VENV_DIR --one-at-a-time mf-llama mf-bert   # each family alone in turn

GPT-2 names must say to install mf-gpt, `mf plugins` must report nothing broken and list
exactly the installed distributions, and an installed plugin's conformance checks (mf.testing: registration,
protocols, config, save/load, converters, tokenizer, LoRA, sharding plan) must pass there. Its training and
decoding checks and its other tests run in the main environment; running them again per subset would double the
suite's time for little more evidence (tests/test_install_subset.py also checks that no plugin imports another).
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


SUBSET_CHECKS = "not trainer_step and not trains_on and not greedy_decoding"


def _check_installed(venv_dir: Path, python: Path, plugins) -> int:
    """What a user with mf-core and `plugins` installed sees."""
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
        # The conformance checks that train and decode run in the main environment too and take most of the
        # time; here the ones that load, build, save, convert, tokenize and adapt each preset are what a
        # missing import or distribution would break.
        tests = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", SUBSET_CHECKS,
                                str(ROOT / "plugins" / name / "tests" / "test_conformance.py")], cwd=ROOT)
        if tests.returncode != 0:
            print(f"{name}'s conformance tests failed with only mf-core and {name} installed", file=sys.stderr)
            return 1
    return 0


def main(venv_dir: Path, plugins, one_at_a_time: bool = False) -> int:
    """mf-core alone, then with `plugins` (all together, or each alone: installed, checked, uninstalled, so
    MindSpore is installed once for all of them)."""
    venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    python = venv_dir / "bin" / "python"
    pip = [str(python), "-m", "pip", "-q"]
    subprocess.run([*pip, "install", str(ROOT / "core"), "pytest"], check=True)
    if _check_installed(venv_dir, python, []):
        return 1
    groups = [[name] for name in plugins] if one_at_a_time else ([list(plugins)] if plugins else [])
    for group in groups:
        subprocess.run([*pip, "install", *(str(ROOT / "plugins" / name) for name in group)], check=True)
        if _check_installed(venv_dir, python, group):
            return 1
        subprocess.run([*pip, "uninstall", "-y", *group], check=True)
        print(f"subset checks passed: mf-core {' '.join(group)}")
    print("subset checks passed")
    return 0


if __name__ == "__main__":
    one_at_a_time = "--one-at-a-time" in sys.argv
    arguments = [a for a in sys.argv[1:] if a != "--one-at-a-time"]
    if arguments:
        sys.exit(main(Path(arguments[0]), arguments[1:], one_at_a_time))
    with tempfile.TemporaryDirectory() as scratch:
        sys.exit(main(Path(scratch) / "venv", [], one_at_a_time))
