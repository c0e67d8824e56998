"""Plugin discovery: entry points, conflicts, broken plugins, and `mf plugins`."""
import os
import subprocess
import sys
import textwrap
import types

import pytest

from mf import hookimpl
from mf.errors import PluginConflictError
from mf.plugins import PluginSet, discover
from mf.registry import Source


def _plugin(name, **hooks):
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, hookimpl(function, specname=hook_name))
    return module


def test_two_distributions_registering_one_task_is_an_error_naming_both():
    first = _plugin("a.plugin", mf_register_tasks=lambda registry: registry.add_task("summarize"))
    second = _plugin("b.plugin", mf_register_tasks=lambda registry: registry.add_task("summarize"))
    plugins = PluginSet()
    plugins.add(Source("mf-a", "a.plugin"), "1.0", lambda: first)
    plugins.add(Source("mf-b", "b.plugin"), "2.0", lambda: second)
    with pytest.raises(PluginConflictError) as err:
        plugins.build()
    assert "task 'summarize'" in str(err.value)
    assert "mf-a" in str(err.value) and "mf-b" in str(err.value)


def test_a_plugin_that_fails_to_import_is_reported_and_the_others_load():
    def broken():
        raise ImportError("No module named 'missing_dependency'")

    good = _plugin("good.plugin", mf_register_tasks=lambda registry: registry.add_task("summarize"))
    plugins = PluginSet()
    plugins.add(Source("mf-broken", "broken.plugin"), "0.1", broken)
    plugins.add(Source("mf-good", "good.plugin"), "1.0", lambda: good)
    registry = plugins.build()
    assert registry.task("summarize").name == "summarize"
    broken_info = plugins.infos[0]
    assert "missing_dependency" in broken_info.error
    assert plugins.infos[1].error is None
    assert plugins.infos[1].registered == {"task": ["summarize"]}


def test_a_hook_that_raises_is_reported_and_its_partial_registrations_dropped():
    def half_then_fail(registry):
        registry.add_task("half")
        raise RuntimeError("boom")

    plugins = PluginSet()
    plugins.add(Source("mf-bad", "bad.plugin"), "0.1", lambda: _plugin("bad.plugin", mf_register_tasks=half_then_fail))
    registry = plugins.build()
    assert "RuntimeError: boom" in plugins.infos[0].error
    assert registry.tasks.get("half") is None


def test_unknown_task_lists_the_available_ones():
    plugins = PluginSet()
    plugins.add(Source("mf-a", "a.plugin"), "1.0",
                lambda: _plugin("a.plugin", mf_register_tasks=lambda registry: registry.add_task("summarize")))
    registry = plugins.build()
    with pytest.raises(KeyError, match="unknown task 'translate'. Available tasks: summarize"):
        registry.task("translate")


THIRD_PARTY_PLUGIN = '''
from mf import hookimpl, PretrainedConfig


class MyConfig(PretrainedConfig):
    model_type = "mymodel"
    width: int = 8


@hookimpl
def mf_register_models(registry):
    from mf.modeling import PreTrainedModel

    class MyModel(PreTrainedModel):
        config_class = MyConfig

    registry.add_model_family("mymodel", MyConfig, {"base": MyModel}, default_role="base")
    registry.add_preset("mymodel_small", "mymodel", {"width": 4})
'''


def _install_fake_distribution(root, dist, module, source, entry_point="plugin"):
    """Write an importable package and its .dist-info with an mf.plugins entry point."""
    package = root / module
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "plugin.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[mf.plugins]\n{entry_point} = {module}.plugin\n")


def test_a_third_party_distribution_is_found_through_its_entry_point(tmp_path, monkeypatch, fresh_plugins):
    _install_fake_distribution(tmp_path, "mf-mymodel", "mf_mymodel", THIRD_PARTY_PLUGIN)
    _install_fake_distribution(tmp_path, "mf-broken", "mf_broken", "raise ImportError('needs libfoo')")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = discover()
    by_dist = {info.source.distribution: info for info in plugins.infos}
    assert by_dist["mf-mymodel"].version == "1.2.3"
    assert by_dist["mf-mymodel"].registered["preset"] == ["mymodel_small"]
    assert "needs libfoo" in by_dist["mf-broken"].error
    assert "mf-core" in by_dist  # core registers through the same mechanism
    from mf import AutoConfig
    from mf.plugins import use_plugin_set

    use_plugin_set(plugins)
    config = AutoConfig.from_pretrained("mymodel_small")
    assert type(config).__name__ == "MyConfig" and config.width == 4


def test_mf_plugins_command_lists_distributions_and_broken_plugins(tmp_path):
    _install_fake_distribution(tmp_path, "mf-mymodel", "mf_mymodel", THIRD_PARTY_PLUGIN)
    _install_fake_distribution(tmp_path, "mf-broken", "mf_broken", "raise ImportError('needs libfoo')")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "mf.cli", "plugins"], capture_output=True, text=True, env=env)
    assert result.returncode == 1, result.stderr
    assert "mf-mymodel 1.2.3" in result.stdout
    assert "presets: mymodel_small" in result.stdout
    assert "broken plugins" in result.stdout and "needs libfoo" in result.stdout
    assert "mf-core" in result.stdout
