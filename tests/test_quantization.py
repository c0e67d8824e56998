"""Weight-only int8 quantisation (mf.quantization): the rounding, the kernels against numpy, every causal LM
family computing exactly with the stored int8 values (prefill and cached decoding), saving and loading, and
the clear errors."""
import json

import numpy as np
import pytest
import mindspore as ms
from mindspore import Tensor

from mf import AutoConfig, AutoModel, Trainer, TrainingArguments
from mf import kernels
from mf.errors import ConfigError, MFError, WeightsError
from mf.nn.layers import Linear, WeightMatMul, quantize_rows
from mf.testing import isolate_caches

CAUSAL_LMS = ["gpt2_tiny", "llama_tiny", "bloom_tiny", "pangualpha_tiny", "glm_tiny"]


@pytest.fixture(autouse=True)
def _caches(tmp_path_factory, monkeypatch):
    isolate_caches(tmp_path_factory, monkeypatch)


def test_rows_round_to_int8_with_the_largest_entry_exact():
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((6, 50)).astype(np.float32) * np.array([1, 10, 0.01, 3, 1, 1])[:, None]
    weight[4] = 0.0  # an all-zero row
    values, scale = quantize_rows(weight)
    assert values.dtype == np.int8 and scale.dtype == np.float32 and scale.shape == (6,)
    restored = values * scale[:, None]
    assert np.all(np.abs(restored - weight) <= scale[:, None] / 2 + 1e-7)
    peaks = np.abs(weight).argmax(1)
    np.testing.assert_allclose(np.abs(restored[np.arange(6), peaks])[[0, 1, 2, 3, 5]],
                               np.abs(weight[np.arange(6), peaks])[[0, 1, 2, 3, 5]], rtol=1e-6)
    assert np.all(values[4] == 0) and np.abs(values).max() == 127


@pytest.mark.skipif(kernels.op("small_matmul_int8") is None, reason="mf's CPU kernels are not built here")
@pytest.mark.parametrize("rows", [1, 3, 8, 16, 17, 40])
def test_int8_products_equal_numpy_on_the_stored_values(rows):
    """Few rows take the streaming int8 kernel, more the dequantised matrix; both equal x @ (values * scale)^T."""
    rng = np.random.default_rng(rows)
    values, scale = quantize_rows(rng.standard_normal((67, 45)).astype(np.float32))  # 67: not a multiple of 4
    x = rng.standard_normal((rows, 45)).astype(np.float32)
    expected = x.astype(np.float64) @ (values * scale[:, None].astype(np.float64)).T
    out = WeightMatMul()(Tensor(x), Tensor(values), Tensor(scale)).asnumpy()
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (4, 4), (3, 7)])
def test_a_quantised_linear_adds_its_bias_on_any_leading_shape(shape, bias):
    """Decoding-sized inputs (<= 16 rows) take the fused product+scale+bias kernel on x's own shape; 21 rows
    the dequantised matrix; both equal numpy on the stored values."""
    rng = np.random.default_rng(len(shape) + shape[-1])
    layer = Linear(45, 67, bias=bias)
    if bias:
        layer.bias.set_data(Tensor(rng.standard_normal(67).astype(np.float32)))
    layer.quantize_weights()
    values, scale = layer.weight.asnumpy(), layer.weight_scale.asnumpy()
    x = rng.standard_normal((*shape, 45)).astype(np.float32)
    expected = x.astype(np.float64) @ (values * scale[:, None].astype(np.float64)).T
    if bias:
        expected = expected + layer.bias.asnumpy()
    out = layer(Tensor(x)).asnumpy()
    assert out.shape == (*shape, 67)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4)


def dequantised_copy(model, name):
    """A float32 model of the same class whose weights are exactly the quantised model's values * scales."""
    state = {}
    params = dict(model.parameters_and_names())
    for key, param in params.items():
        if key.endswith("_scale"):
            continue
        value = param.asnumpy()
        if value.dtype == np.int8:
            value = value.astype(np.float32) * params[f"{key}_scale"].asnumpy()[:, None]
        state[key] = value
    twin = AutoModel.from_config(AutoConfig.from_pretrained(name))
    twin.load_weights(state)
    return twin


@pytest.mark.parametrize("name", CAUSAL_LMS)
def test_a_quantised_model_computes_with_its_int8_values_and_decodes_as_it_prefills(name):
    ms.set_seed(0)
    model = AutoModel.from_config(AutoConfig.from_pretrained(name))
    ids = np.random.default_rng(0).integers(5, 200, (2, 20)).astype(np.int32)
    float_logits = model(Tensor(ids)).asnumpy()
    model.quantize("int8")
    assert model.config.quantization_config["weight_dtype"] == "int8"
    kinds = {str(p.dtype) for n, p in model.parameters_and_names() if n.endswith(".weight")}
    assert "Int8" in kinds
    logits = model(Tensor(ids)).asnumpy()
    twin = dequantised_copy(model, name)
    np.testing.assert_allclose(logits, twin(Tensor(ids)).asnumpy(), atol=1e-4, rtol=1e-4)
    # quantisation moves the logits a little, not nothing and not a lot
    error = np.abs(logits - float_logits).max() / np.abs(float_logits).max()
    assert 0 < error < 0.05

    # cached decoding (the int8 kernel, one row per step) picks the tokens of the dequantised model's
    # uncached forward passes
    tokens = model.generate(ids[:1], max_new_tokens=6, do_sample=False)
    assert np.array_equal(tokens, twin.generate(ids[:1], max_new_tokens=6, do_sample=False, use_cache=False))


def test_generate_quantises_once_and_the_checkpoint_comes_back_int8(tmp_path):
    ms.set_seed(1)
    model = AutoModel.from_config(AutoConfig.from_pretrained("gpt2_tiny"))
    ids = np.arange(10, 22, dtype=np.int32).reshape(1, -1)
    first = model.generate(ids, max_new_tokens=5, do_sample=False, weight_dtype="int8")
    assert model.config.quantization_config["weight_dtype"] == "int8"
    assert np.array_equal(model.generate(ids, max_new_tokens=5, do_sample=False, weight_dtype="int8"), first)

    model.save_pretrained(tmp_path / "int8")
    assert json.loads((tmp_path / "int8" / "config.json").read_text())["quantization_config"]["weight_dtype"] == "int8"
    loaded = AutoModel.from_pretrained(str(tmp_path / "int8"))
    assert loaded.transformer.wte.weight.dtype == ms.int8
    np.testing.assert_array_equal(loaded(Tensor(ids)).asnumpy(), model(Tensor(ids)).asnumpy())
    assert np.array_equal(loaded.generate(ids, max_new_tokens=5, do_sample=False), first)

    with pytest.raises(WeightsError, match="format='mf'"):
        model.save_pretrained(tmp_path / "hf", format="huggingface")
    assert not (tmp_path / "hf").exists()


def test_what_cannot_be_quantised_or_trained_is_a_clear_error(tmp_path):
    model = AutoModel.from_config(AutoConfig.from_pretrained("gpt2_tiny"))
    with pytest.raises(ConfigError, match="weight_dtype must be one of"):
        model.generate([[1, 2, 3]], max_new_tokens=2, weight_dtype="int4")
    bert = AutoModel.from_config(AutoConfig.from_pretrained("bert_tiny"))
    with pytest.raises(ConfigError, match="does not support weight-only quantisation"):
        bert.quantize("int8")
    from mf.pet import apply_lora, merge_and_unload

    adapted = apply_lora(AutoModel.from_config(AutoConfig.from_pretrained("gpt2_tiny")), r=2)
    with pytest.raises(ConfigError, match="merge them into the weights first"):
        adapted.quantize("int8")
    merge_and_unload(adapted).quantize("int8")  # merged, it quantises
    model.quantize("int8")
    with pytest.raises(ConfigError, match="cannot be turned back"):
        model.quantize("float32")
    data = tmp_path / "train.txt"
    data.write_text("one two three four five six seven eight nine ten\n" * 20)
    args = TrainingArguments(output_dir=str(tmp_path / "out"), max_steps=1, batch_size=2, seq_length=8)
    with pytest.raises(MFError, match="quantise it afterwards"):
        Trainer(task="text_generation", model=model, args=args, train_dataset=str(data)).train()


def test_mf_generate_decodes_with_int8_weights_as_the_saved_int8_model_does(tmp_path):
    import subprocess
    import sys

    ms.set_seed(2)
    model = AutoModel.from_config(AutoConfig.from_pretrained("gpt2_tiny"))
    model.save_pretrained(tmp_path / "float")
    model.quantize("int8")
    model.save_pretrained(tmp_path / "int8")
    outputs = []
    for folder, extra in (("float", ["--weight-dtype", "int8"]), ("int8", [])):
        command = [sys.executable, "-m", "mf.cli", "generate", "--model", str(tmp_path / folder), "--tokenizer",
                   "gpt2_tiny", "--prompt", "The ship sailed", "--max-new-tokens", "12", *extra]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]  # quantised on the command line = saved quantised
    assert outputs[0].startswith("The ship sailed") and len(outputs[0]) > len("The ship sailed\n")
