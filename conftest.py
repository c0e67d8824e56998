"""Test-wide setup: the CPU device, a private model cache, and the plugin set reset per test."""
import os
import shutil
import tempfile

import pytest


def pytest_configure(config):
    # the fused kernels are built once per test session, into a temporary directory (inherited by
    # the processes tests start), never into the user's ~/.cache/mf/kernels
    if not os.environ.get("MF_KERNEL_CACHE", "").startswith(tempfile.gettempdir()):
        os.environ["MF_KERNEL_CACHE"] = config._mf_kernel_cache = tempfile.mkdtemp(prefix="mf-kernels-")
    # compiled graphs are not shared between tests (a test that changes module state in-process, such as
    # turning the kernels off, would meet graphs its key does not describe); tests/test_compile_cache.py and
    # the CLI test of it turn the cache on with their own store
    os.environ["MF_COMPILE_CACHE"] = "0"
    import mindspore as ms

    ms.set_device("CPU")


def pytest_unconfigure(config):
    created = getattr(config, "_mf_kernel_cache", None)
    if created:
        shutil.rmtree(created, ignore_errors=True)


@pytest.fixture(autouse=True)
def private_mf_home(tmp_path_factory, monkeypatch):
    """No test reads or writes the user's ~/.cache/mf."""
    monkeypatch.setenv("MF_HOME", str(tmp_path_factory.mktemp("mf_home")))
    monkeypatch.setenv("HF_HOME", str(tmp_path_factory.mktemp("hf_home")))
    # no test reaches the real Hub: one that would fails at once with mf's offline message
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def restore_execution_mode():
    """init_context (the tutorial's) switches the process to graph mode; the next test starts as this one did."""
    import mindspore as ms

    mode = ms.get_context("mode")
    yield
    if ms.get_context("mode") != mode:
        ms.set_context(mode=mode)


@pytest.fixture
def fresh_plugins():
    """Rediscover plugins for this test (it may change sys.path), and again after it."""
    from mf.plugins import use_plugin_set

    use_plugin_set(None)
    yield
    use_plugin_set(None)


def pytest_collection_modifyitems(config, items):
    """Files with slow (multi-process, environment-building) tests first: with `./dev test`'s two workers taking
    a file at a time, the long files start at once instead of ending the run on one worker."""
    slow_files = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in slow_files)  # stable: order kept otherwise
