"""Name resolution: presets, directories, and the errors for everything else."""
import pytest

from mf import AutoConfig, AutoModel, AutoTokenizer, show_support_list
from mf.errors import ConfigError, UnknownNameError


def test_unknown_preset_suggests_close_matches():
    with pytest.raises(UnknownNameError, match="unknown preset 'gpt2_smal'. Did you mean: .*gpt2"):
        AutoConfig.from_pretrained("gpt2_smal")


@pytest.fixture
def glm_uninstalled(fresh_plugins):
    """As if mf-glm were not installed (in a full checkout every first-party family is)."""
    from mf.plugins import get_registry, plugin_set

    for info in plugin_set().infos:
        if info.source.distribution == "mf-glm":
            get_registry().drop_source(info.source)


def test_a_preset_of_an_uninstalled_family_names_the_distribution(glm_uninstalled):
    with pytest.raises(UnknownNameError, match=r"preset 'glm_6b' is provided by mf-glm, which is not installed: pip install mf-glm"):
        AutoModel.from_pretrained("glm_6b")


def test_a_missing_path_says_it_does_not_exist(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        AutoModel.from_pretrained(str(tmp_path / "nowhere"))


def test_a_directory_without_config_json(tmp_path):
    with pytest.raises(ConfigError, match=f"{tmp_path} has no config.json"):
        AutoModel.from_pretrained(str(tmp_path))
    with pytest.raises(Exception, match="cannot tell which tokenizer"):
        AutoTokenizer.from_pretrained(str(tmp_path))


def test_config_json_without_model_type(tmp_path):
    (tmp_path / "config.json").write_text('{"n_embd": 8}')
    with pytest.raises(ConfigError, match="has no 'model_type' field"):
        AutoConfig.from_pretrained(str(tmp_path))


def test_show_support_list_lists_gpt2_presets(capsys):
    support = show_support_list()
    assert {"gpt2", "gpt2_13b", "gpt2_52b", "gpt2_tiny"} <= set(support["gpt2"])
    assert "gpt2_13b" in capsys.readouterr().out
    assert AutoModel.show_support_list() == support


def test_plugin_classes_import_from_mf():
    from mf import GPT2LMHeadModel
    from mf_gpt import GPT2LMHeadModel as direct

    assert GPT2LMHeadModel is direct


def test_uninstalled_plugin_class_names_the_distribution(glm_uninstalled):
    with pytest.raises(ImportError, match="mf.GLMModel is provided by mf-glm, which is not installed: pip install mf-glm"):
        from mf import GLMModel  # noqa: F401


def test_a_directory_named_like_a_preset_is_loaded_with_a_warning(tmp_path, monkeypatch):
    """`./gpt2_tiny` in the working directory wins over the preset (as in transformers), but says so; an
    explicit ./ path is the directory without a warning."""
    import warnings

    from mf import AutoConfig

    monkeypatch.chdir(tmp_path)
    AutoConfig.from_pretrained("gpt2_tiny", num_layers=1).save_pretrained(tmp_path / "gpt2_tiny")
    with pytest.warns(UserWarning, match="'gpt2_tiny' names a preset and also the directory"):
        assert AutoConfig.from_pretrained("gpt2_tiny").num_layers == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert AutoConfig.from_pretrained("./gpt2_tiny").num_layers == 1
