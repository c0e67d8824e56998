"""Test-wide setup: the CPU device, a private model cache, and the plugin set reset per test."""
import os

import pytest


def pytest_configure(config):
    import mindspore as ms

    ms.set_device("CPU")


@pytest.fixture(autouse=True)
def private_mf_home(tmp_path_factory, monkeypatch):
    """No test reads or writes the user's ~/.cache/mf."""
    monkeypatch.setenv("MF_HOME", str(tmp_path_factory.mktemp("mf_home")))


@pytest.fixture
def fresh_plugins():
    """Rediscover plugins for this test (it may change sys.path), and again after it."""
    from mf.plugins import use_plugin_set

    use_plugin_set(None)
    yield
    use_plugin_set(None)
