"""Developer sessions. CI runs `.ci/run`, which runs the README's test command."""
import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests"]

PLUGINS = ["plugins/mf-gpt", "plugins/mf-llama", "plugins/mf-bert", "plugins/mf-t5", "plugins/mf-vision",
           "plugins/mf-glm"]


def _install_all(session):
    session.install("-e", "./core", *[arg for p in PLUGINS for arg in ("-e", p)], "pytest", "hypothesis")


@nox.session
def tests(session):
    """Every test of every distribution, and the cross-package ones."""
    _install_all(session)
    session.run("pytest", *session.posargs)


@nox.session
def core(session):
    """mf-core's own tests, with mf-core alone installed."""
    session.install("-e", "./core", "pytest")
    session.run("pytest", "core/tests", *session.posargs)


@nox.session
def gpt(session):
    """mf-gpt's tests."""
    session.install("-e", "./core", "-e", "./plugins/mf-gpt", "pytest")
    session.run("pytest", "plugins/mf-gpt/tests", *session.posargs)


@nox.session
def llama(session):
    """mf-llama's tests, without mf-gpt."""
    session.install("-e", "./core", "-e", "./plugins/mf-llama", "pytest")
    session.run("pytest", "plugins/mf-llama/tests", *session.posargs)


@nox.session
def install_subset(session):
    """mf-core alone, then mf-core + mf-llama, each in a fresh venv: GPT-2 names say `pip install mf-gpt`,
    `mf plugins` reports nothing broken, mf-llama's tests pass without mf-gpt."""
    session.run("python", "tests/install_subset_check.py", external=True)
    session.run("python", "tests/install_subset_check.py", session.create_tmp() + "/llama-venv", "mf-llama",
                external=True)


@nox.session
def demo(session):
    """The README's main job."""
    _install_all(session)
    session.run("mf", "demo")


@nox.session
def reliability(session):
    """The standing reliability suite at nightly strength: 24 kills, 5000 fuzz examples per property with
    fresh randomness (CI runs the same tests with fewer)."""
    _install_all(session)
    session.run("pytest", "-s", "tests/reliability", *session.posargs,
                env={"MF_KILLS": "24", "MF_FUZZ_EXAMPLES": "5000", "MF_KILL_SEED": str(__import__("time").time_ns())})
