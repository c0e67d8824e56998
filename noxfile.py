"""Developer sessions. CI runs `.ci/run`, which runs the README's test command."""
import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests"]

PLUGINS = ["plugins/mf-gpt"]


def _install_all(session):
    session.install("-e", "./core", *[arg for p in PLUGINS for arg in ("-e", p)], "pytest")


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
def install_subset(session):
    """mf-core alone in a fresh venv: GPT-2 names say `pip install mf-gpt`, `mf plugins` reports nothing broken."""
    session.run("python", "tests/install_subset_check.py", external=True)


@nox.session
def demo(session):
    """The README's main job."""
    _install_all(session)
    session.run("mf", "demo")
