"""Plugin discovery: entry points, conflicts, broken plugins, and `mf plugins`."""
import os
import subprocess
import sys
import textwrap
import types

import pytest

from mf import hookimpl
from mf.plugins import PluginSet, discover
from mf.registry import Source


def _plugin(name, **hooks):
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, hookimpl(function, specname=hook_name))
    return module


def test_a_conflict_skips_both_plugins_names_both_and_keeps_the_others():
    first = _plugin("a.plugin", mf_register_tasks=lambda registry: (registry.add_task("summarize"),
                                                                    registry.add_task("only_a")))
    second = _plugin("b.plugin", mf_register_tasks=lambda registry: registry.add_task("summarize"))
    third = _plugin("c.plugin", mf_register_tasks=lambda registry: registry.add_task("translate"))
    plugins = PluginSet()
    plugins.add(Source("mf-a", "a.plugin"), "1.0", lambda: first)
    plugins.add(Source("mf-b", "b.plugin"), "2.0", lambda: second)
    plugins.add(Source("mf-c", "c.plugin"), "1.0", lambda: third)
    registry = plugins.build()
    a, b, c = plugins.infos
    assert a.problem == b.problem == "conflict"
    for info in (a, b):
        assert "task 'summarize'" in info.error and "mf-a" in info.error and "mf-b" in info.error
        assert "pip uninstall mf-a" in info.error and "pip uninstall mf-b" in info.error
    assert registry.tasks.get("summarize") is None and registry.tasks.get("only_a") is None
    assert registry.task("translate").name == "translate" and c.error is None


def test_a_plugin_reusing_a_core_name_is_skipped_and_core_keeps_it():
    core = _plugin("mf.builtins", mf_register_tasks=lambda registry: registry.add_task("text_generation"))
    clash = _plugin("x.plugin", mf_register_tasks=lambda registry: registry.add_task("text_generation"))
    plugins = PluginSet()
    plugins.add(Source("mf-core", "mf.builtins"), "0.1", lambda: core)
    plugins.add(Source("mf-x", "x.plugin"), "1.0", lambda: clash)
    registry = plugins.build()
    assert plugins.infos[0].error is None and registry.task("text_generation")
    assert plugins.infos[1].problem == "conflict" and "mf-core" in plugins.infos[1].error


@pytest.mark.parametrize("declared, ok", [(">=1.0,<2", True), (">=1.0", True), (">=2.0,<3", False),
                                          ("<1.0", False), ("one point oh", False)])
def test_a_plugin_declaring_an_incompatible_plugin_api_is_skipped_with_both_versions(declared, ok):
    import mf

    module = _plugin("v.plugin", mf_register_tasks=lambda registry: registry.add_task("versioned"))
    module.MF_PLUGIN_API = declared
    plugins = PluginSet()
    info = plugins.add(Source("mf-v", "v.plugin"), "3.0", lambda: module)
    registry = plugins.build()
    assert (registry.tasks.get("versioned") is not None) == ok
    if not ok:
        assert info.problem == "incompatible"
        assert "mf-v" in info.error and declared in info.error
        if declared != "one point oh":
            assert f"PLUGIN_API {mf.PLUGIN_API}" in info.error and "pip install -U mf-v" in info.error
        else:
            assert "'>=1.0,<2'" in info.error


def test_exports_are_explicit_and_first_party_names_are_exact():
    import mf

    assert mf.GPT2LMHeadModel.__name__ == "GPT2LMHeadModel"  # mf-gpt exports it
    assert not hasattr(mf, "Clipboard")  # a prefix of CLIP is not a CLIP name
    assert not hasattr(mf, "GPT2Attention")  # registered family internals are not exported
    from mf.catalogue import FIRST_PARTY, first_party_distribution

    FIRST_PARTY["mf-gpt"]["names"].add("GPT3Config")  # a name catalogued for mf-gpt that it does not provide
    try:
        with pytest.raises(ImportError, match="pip install mf-gpt"):
            mf.GPT3Config
    finally:
        FIRST_PARTY["mf-gpt"]["names"].discard("GPT3Config")
    assert mf.PanguAlphaConfig.__name__ == "PanguAlphaConfig" and mf.BloomLMHeadModel.__name__ == "BloomForCausalLM"

    assert first_party_distribution("clip_vit_b_32") == "mf-vision"
    assert first_party_distribution("clipper") is None and first_party_distribution("gpt2_huge") is None


def test_installed_first_party_plugins_are_in_the_catalogue():
    """The catalogue stays exact: every name an installed first-party plugin provides is listed."""
    from mf.catalogue import FIRST_PARTY
    from mf.plugins import plugin_set

    for info in plugin_set().infos:
        provides = FIRST_PARTY.get(info.source.distribution)
        if provides is None:
            continue
        kinds = {"model type": "model_types", "preset": "presets", "public name": "names"}
        for kind, names in info.registered.items():
            if kind in kinds:
                missing = set(names) - provides[kinds[kind]]
                assert not missing, f"add {sorted(missing)} to mf.catalogue.FIRST_PARTY['{info.source.distribution}']"


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


HANGS_AT_IMPORT = """
import mf
from mf import hookimpl

EARLY = mf.GPT2Config  # needs the registry, which is being built right now


@hookimpl
def mf_register_tasks(registry):
    registry.add_task("never")
"""

BROKEN_COMMAND = """
from mf import hookimpl


@hookimpl
def mf_register_commands(cli):
    cli.add_command("half", "added before the hook fails", lambda args: 0)
    raise RuntimeError("command hook exploded")


@hookimpl
def mf_register_tasks(registry):
    registry.add_task("still_works")
"""

OLD_API = """
from mf import hookimpl

MF_PLUGIN_API = ">=0.1,<1"


@hookimpl
def mf_register_tasks(registry):
    registry.add_task("from_the_past")
"""


def _mf_cli(tmp_path, *args):
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "mf.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_using_mf_at_plugin_import_time_is_a_clear_error_not_a_hang(tmp_path):
    _install_fake_distribution(tmp_path, "mf-early", "mf_early", HANGS_AT_IMPORT)
    result = _mf_cli(tmp_path, "plugins")  # hung forever before (discovery held a non-reentrant lock)
    assert result.returncode == 1
    assert "broken plugins" in result.stdout and "mf-early" in result.stdout
    assert "while plugins were still loading" in result.stdout and "mf-gpt 0.1.0" in result.stdout


def test_a_broken_command_hook_leaves_mf_working(tmp_path):
    _install_fake_distribution(tmp_path, "mf-badcmd", "mf_badcmd", BROKEN_COMMAND)
    listing = _mf_cli(tmp_path, "plugins")
    assert "command hook exploded" in listing.stdout and "tasks: still_works" in listing.stdout
    assert listing.returncode == 1
    help_text = _mf_cli(tmp_path, "--help")
    assert help_text.returncode == 0 and "plugins" in help_text.stdout and "half" not in help_text.stdout
    assert _mf_cli(tmp_path, "plan", "--model", "gpt2", "--devices", "1", "--device-memory", "16GB",
                   "--global-batch", "8", "--json").returncode == 0


def test_mf_plugins_shows_an_incompatible_plugin_and_both_versions(tmp_path):
    _install_fake_distribution(tmp_path, "mf-old", "mf_old", OLD_API)
    result = _mf_cli(tmp_path, "plugins")
    assert result.returncode == 1
    assert "incompatible plugins (skipped)" in result.stdout
    assert ">=0.1,<1" in result.stdout and "PLUGIN_API 1.0" in result.stdout and "from_the_past" not in result.stdout


TASK_CLASH = """
from mf import hookimpl


@hookimpl
def mf_register_tasks(registry):
    registry.add_task("summarize")
"""


def test_mf_plugins_names_both_sides_of_a_conflict_and_keeps_the_rest(tmp_path):
    _install_fake_distribution(tmp_path, "mf-first", "mf_first", TASK_CLASH)
    _install_fake_distribution(tmp_path, "mf-second", "mf_second", TASK_CLASH)
    result = _mf_cli(tmp_path, "plugins")
    assert result.returncode == 1
    conflicts = result.stdout.split("conflicting plugins (skipped):")[1]
    assert "mf-first" in conflicts and "mf-second" in conflicts
    assert "pip uninstall mf-first" in conflicts and "pip uninstall mf-second" in conflicts
    assert "mf-gpt 0.1.0" in result.stdout.split("conflicting plugins")[0]  # the others still load
