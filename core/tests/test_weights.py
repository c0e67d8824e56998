"""Weights I/O through PreTrainedModel: round trips, shards, and damaged or mismatched files."""
import numpy as np
import pytest
import mindspore as ms

from mf.config import PretrainedConfig
from mf.errors import WeightsError
from mf.modeling import PreTrainedModel
from mf.nn import LayerNorm, Linear
from mf.weights import WEIGHTS_NAME, load_state_dict, save_state_dict


class TinyConfig(PretrainedConfig):
    model_type = "tiny_test"
    width: int = 6


class TinyModel(PreTrainedModel):
    config_class = TinyConfig

    def __init__(self, config):
        super().__init__(config)
        self.proj = Linear(config.width, 2 * config.width)
        self.norm = LayerNorm(2 * config.width)

    def construct(self, x):
        return self.norm(self.proj(x))


def _inputs():
    return ms.Tensor(np.random.default_rng(0).standard_normal((3, 6)).astype(np.float32))


def test_save_then_load_gives_identical_outputs(tmp_path):
    model = TinyModel(TinyConfig())
    model.save_pretrained(tmp_path)
    again = TinyModel.from_pretrained(str(tmp_path))
    np.testing.assert_array_equal(model(_inputs()).asnumpy(), again(_inputs()).asnumpy())
    assert again.num_parameters() == 6 * 12 + 12 + 12 + 12


def test_sharded_save_writes_an_index_and_loads(tmp_path):
    model = TinyModel(TinyConfig())
    model.save_pretrained(tmp_path, max_shard_size=200)
    assert (tmp_path / "model.safetensors.index.json").is_file()
    assert not (tmp_path / WEIGHTS_NAME).exists()
    assert len(list(tmp_path.glob("model-*-of-*.safetensors"))) > 1
    again = TinyModel.from_pretrained(str(tmp_path))
    np.testing.assert_array_equal(model(_inputs()).asnumpy(), again(_inputs()).asnumpy())
    # saving unsharded over it removes the stale shards and index
    model.save_pretrained(tmp_path)
    assert not list(tmp_path.glob("model-*-of-*.safetensors"))
    assert not (tmp_path / "model.safetensors.index.json").exists()


def test_truncated_file_is_named_in_the_error(tmp_path):
    TinyModel(TinyConfig()).save_pretrained(tmp_path)
    path = tmp_path / WEIGHTS_NAME
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(WeightsError, match=r"model.safetensors \(\d+ bytes\) is not a readable safetensors file.*truncated"):
        TinyModel.from_pretrained(str(tmp_path))


def test_missing_tensor_is_named(tmp_path):
    model = TinyModel(TinyConfig())
    state = model.state_dict()
    del state["norm.bias"]
    save_state_dict(state, tmp_path)
    model.config.save_pretrained(tmp_path)
    with pytest.raises(WeightsError, match="missing tensors: norm.bias"):
        TinyModel.from_pretrained(str(tmp_path))


def test_misshaped_tensor_is_named_with_both_shapes(tmp_path):
    model = TinyModel(TinyConfig())
    state = model.state_dict()
    state["proj.weight"] = np.zeros((12, 5), np.float32)
    save_state_dict(state, tmp_path)
    model.config.save_pretrained(tmp_path)
    with pytest.raises(WeightsError, match=r"proj.weight has shape \[12, 5\], the model needs \[12, 6\]"):
        TinyModel.from_pretrained(str(tmp_path))


def test_a_failed_load_leaves_the_model_untouched(tmp_path):
    model = TinyModel(TinyConfig())
    before = model.state_dict()
    bad = {k: np.ones_like(v) for k, v in before.items()}
    bad["norm.weight"] = np.ones((3,), np.float32)
    with pytest.raises(WeightsError):
        model.load_weights(bad)
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_an_interrupted_save_keeps_the_previous_file(tmp_path, monkeypatch):
    model = TinyModel(TinyConfig())
    model.save_pretrained(tmp_path)
    original = (tmp_path / WEIGHTS_NAME).read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("mf.weights.save_file", crash)
    with pytest.raises(WeightsError, match=r"writing .*model.safetensors .* failed: disk full"):
        model.save_pretrained(tmp_path)
    assert (tmp_path / WEIGHTS_NAME).read_bytes() == original
    assert not list(tmp_path.glob(".*.tmp"))


def test_directory_without_weights_says_what_it_expected(tmp_path):
    TinyConfig().save_pretrained(tmp_path)
    with pytest.raises(WeightsError, match="has no weights: expected model.safetensors"):
        TinyModel.from_pretrained(str(tmp_path))


def test_format_metadata_marks_mf_files(tmp_path):
    TinyModel(TinyConfig()).save_pretrained(tmp_path)
    _, fmt = load_state_dict(tmp_path)
    assert fmt == "mf"


def test_saved_files_get_the_mode_open_would_give_them(tmp_path):
    """Atomic writes go through mkstemp (mode 0600); the file that lands has 0666 less the umask, as open() gives,
    so another account can read a saved model."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        save_state_dict({"w": np.ones((2, 2), np.float32)}, tmp_path / "a")
        assert stat.S_IMODE((tmp_path / "a" / "model.safetensors").stat().st_mode) == 0o644
        os.umask(0o077)
        save_state_dict({"w": np.ones((2, 2), np.float32)}, tmp_path / "b")
        assert stat.S_IMODE((tmp_path / "b" / "model.safetensors").stat().st_mode) == 0o600
    finally:
        os.umask(old)


@pytest.mark.parametrize("bad, message", [
    (lambda w: w.astype(np.int64), "is int64, not floating point"),
    (lambda w: w > 0, "is bool, not floating point"),
    (lambda w: np.where(w > 0, np.inf, w).astype(np.float32), "holds NaN or infinite values"),
    (lambda w: np.full(w.shape, 1e300, np.float64), "has values up to 1e\\+300, beyond float32's range"),
])
def test_weights_that_are_not_finite_floats_are_refused_and_nothing_is_loaded(tmp_path, bad, message):
    model = TinyModel(TinyConfig())
    model.save_pretrained(tmp_path)
    state = load_state_dict(tmp_path)[0]
    state["proj.weight"] = bad(state["proj.weight"])
    save_state_dict(state, tmp_path)
    before = {name: value.copy() for name, value in model.state_dict().items()}
    with pytest.raises(WeightsError, match=rf"tensor 'proj.weight' {message}"):
        model.load_weights(load_state_dict(tmp_path)[0], where=str(tmp_path))
    assert all(np.array_equal(before[name], value) for name, value in model.state_dict().items())


def test_an_index_may_only_name_shards_in_its_directory(tmp_path):
    import json

    model = TinyModel(TinyConfig())
    model.save_pretrained(tmp_path / "m", max_shard_size=200)
    index = tmp_path / "m" / "model.safetensors.index.json"
    data = json.loads(index.read_text())
    outside = tmp_path / "elsewhere.safetensors"
    first = next(iter(data["weight_map"]))
    (tmp_path / "m" / data["weight_map"][first]).rename(outside)
    data["weight_map"][first] = "../elsewhere.safetensors"
    index.write_text(json.dumps(data))
    with pytest.raises(WeightsError, match="outside"):
        load_state_dict(tmp_path / "m")
    data["weight_map"][first] = 7
    index.write_text(json.dumps(data))
    with pytest.raises(WeightsError, match="shard names must be file names"):
        load_state_dict(tmp_path / "m")


def test_set_seed_makes_initial_weights_the_same_in_every_process():
    import subprocess
    import sys

    script = ("import sys, numpy as np\nfrom mf import set_seed\nfrom mf.nn import Linear\nset_seed(int(sys.argv[1]))\n"
              "layer = Linear(8, 8, init_std=0.02)\nprint(float(np.abs(layer.weight.asnumpy()).sum()))\n")
    runs = [subprocess.run([sys.executable, "-c", script, seed], capture_output=True, text=True, check=True)
            .stdout.split()[-1] for seed in ("0", "0", "1")]
    assert runs[0] == runs[1] != runs[2]


def test_a_failed_checkpoint_save_names_the_file_and_leaves_nothing_behind(tmp_path, monkeypatch):
    """As on a full disk: the error names the file being written; no scratch folder stays and the previous
    checkpoint is whole."""
    from mf import weights
    from mf.trainer.checkpoint import save_checkpoint

    model = TinyModel(TinyConfig())
    first = save_checkpoint(tmp_path, 1, model, {"m": np.zeros(3, np.float32)}, {"global_step": 1})
    before = sorted(p.name for p in first.iterdir())

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(weights, "save_file", disk_full)
    with pytest.raises(WeightsError, match=r"writing .*optimizer.*safetensors .* failed: .*No space left"):
        save_checkpoint(tmp_path, 2, model, {"m": np.zeros(3, np.float32)}, {"global_step": 2})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-1"]
    assert sorted(p.name for p in first.iterdir()) == before
