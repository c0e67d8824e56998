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
from mf.nn.layers import SMALL_MATMUL_ROWS, Linear, WeightMatMul, dynamic_int8_matmul, quantize_rows
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


def int16_rows_reference(x, values, scale):
    """numpy's weight-only int8 product as the streaming kernel computes it: each row of x rounded to 16 bits
    (q = round(x * 32767 / max |row|) in double, the scale max |row| / 32767 in float32, as the kernel does),
    exact integer sums with the int8 values, then both scales."""
    x = np.asarray(x, np.float32)
    peak = np.abs(x).max(axis=-1, keepdims=True)
    row_scale = np.where(peak > 0, peak / np.float32(32767), np.float32(1)).astype(np.float32)
    inverse = np.where(peak > 0, 32767.0 / np.maximum(peak, 1e-30).astype(np.float64), 1.0)
    q = np.rint(x.astype(np.float64) * inverse).astype(np.int64)
    return (q @ values.astype(np.int64).T) * row_scale.astype(np.float64) * scale.astype(np.float64)


def weight_only_reference(x, values, scale):
    """What a weight-only int8 product of x [rows, in] gives: the streaming kernel's 16-bit rows for few rows
    (with mf's kernels), else x times the dequantised matrix."""
    if kernels.op("small_matmul_int8") is not None and x.shape[0] <= SMALL_MATMUL_ROWS:
        return int16_rows_reference(x, values, scale)
    return x.astype(np.float64) @ (values * scale[:, None].astype(np.float64)).T


@pytest.mark.parametrize("rows", [1, 3, 8, 16, 17, 40])
# under one 32-wide step; four steps and a tail; 34 steps and a tail (a wide row, as a down projection's)
@pytest.mark.parametrize("width", [45, 130, 1100])
def test_int8_products_equal_numpy_on_the_stored_values(rows, width):
    """Few rows take the streaming int8 kernel (x rounded per row to 16 bits, exact integer sums), more the
    dequantised matrix; both equal numpy's arithmetic, and stay within x's rounding of the float product."""
    rng = np.random.default_rng(rows * width)
    values, scale = quantize_rows(rng.standard_normal((67, width)).astype(np.float32))  # 67: not a multiple of 4
    x = (rng.standard_normal((rows, width)) * np.linspace(0.1, 3, rows)[:, None]).astype(np.float32)
    if rows > 1:
        x[0, :] = 0.0  # an all-zero row: scale 1, products 0
    out = WeightMatMul()(Tensor(x), Tensor(values), Tensor(scale)).asnumpy()
    expected = weight_only_reference(x, values, scale)
    kernel = kernels.op("small_matmul_int8") is not None and rows <= SMALL_MATMUL_ROWS
    # the kernel's integer sums are exact (float32 rounding of the result only); the GEMM sums in float32
    np.testing.assert_allclose(out, expected, **(dict(rtol=2e-6, atol=1e-6) if kernel else dict(rtol=1e-5, atol=1e-4)))
    assert rows == 1 or np.all(out[0] == 0)
    # rounding x to 16 bits moves each product by at most half a step of x per term
    exact = x.astype(np.float64) @ (values * scale[:, None].astype(np.float64)).T
    half_step = np.abs(x).max(axis=1, keepdims=True) / 32767 / 2
    bound = half_step * (np.abs(values) * scale[:, None]).sum(axis=1)
    assert np.all(np.abs(out - exact) <= bound + 1e-5 * np.abs(exact) + 1e-6)


@pytest.mark.skipif(kernels.op("small_matmul_int8") is None, reason="mf's CPU kernels are not built here")
def test_a_row_of_the_int8_kernel_does_not_depend_on_the_rest_of_the_batch():
    """Exact integer sums: a row's result is the same alone, in a batch of 8 or of 5 (other row blocks)."""
    rng = np.random.default_rng(3)
    values, scale = quantize_rows(rng.standard_normal((36, 576)).astype(np.float32))
    x = (rng.standard_normal((8, 576)) * np.arange(1, 9)[:, None]).astype(np.float32)
    matmul = WeightMatMul()
    batch = matmul(Tensor(x), Tensor(values), Tensor(scale)).asnumpy()
    five = matmul(Tensor(x[3:]), Tensor(values), Tensor(scale)).asnumpy()
    for row in (0, 5, 7):
        alone = matmul(Tensor(x[row:row + 1]), Tensor(values), Tensor(scale)).asnumpy()
        assert np.array_equal(alone[0], batch[row])
    assert np.array_equal(five, batch[3:])


@pytest.mark.skipif(kernels.op("small_matmul_int8") is None, reason="mf's CPU kernels are not built here")
def test_int8_kernel_sums_past_the_int32_range_stay_exact():
    """8200 columns of the largest values (32767 * 127 each) sum to 3.4e10, past int32: the kernel moves its
    sums to int64 every 8192 columns."""
    width = 8200
    values = np.full((5, width), 127, np.int8)
    values[1] = -127
    values[2, ::2] = -127  # alternating signs: the exact sum is small
    scale = np.ones(5, np.float32)
    x = np.full((2, width), 3.0, np.float32)
    out = WeightMatMul()(Tensor(x), Tensor(values), Tensor(scale)).asnumpy()
    expected = int16_rows_reference(x, values, scale)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    np.testing.assert_allclose(out[:, 0], 3.0 * 127 * width, rtol=1e-6)
    np.testing.assert_allclose(out[:, 1], -3.0 * 127 * width, rtol=1e-6)


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
    expected = weight_only_reference(x.reshape(-1, 45), values, scale).reshape(*shape, 67)
    if bias:
        expected = expected + layer.bias.asnumpy()
    out = layer(Tensor(x)).asnumpy()
    assert out.shape == (*shape, 67)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4)


def dynamic_int8_reference(x, values, scale):
    """numpy's dynamic int8 product: x rounded per row to int8 (max |row| / 127), exact integer sums, then
    both scales; and the size of one rounding step of x in each output (a tie may round either way)."""
    peak = np.abs(x).max(axis=-1, keepdims=True)
    row_scale = np.where(peak > 0, peak / 127, 1).astype(np.float32)
    q = np.rint(x / row_scale).astype(np.int64)
    sums = q @ values.astype(np.int64).T
    one_step = row_scale * scale * np.abs(values).max(axis=1)
    return sums * row_scale.astype(np.float64) * scale, one_step


@pytest.mark.skipif(kernels.op("small_matmul_int8") is None, reason="mf's kernels are not available")
@pytest.mark.parametrize("int8_activations", [False, True])
def test_a_non_finite_activation_makes_its_row_nan_and_leaves_the_others(int8_activations):
    """Rounding a row to integers must not turn a NaN or an infinity into finite products: that row's products
    are NaN (as float32's would be), and the other rows are exactly what they are without it."""
    rng = np.random.default_rng(3)
    values, scale = quantize_rows(rng.standard_normal((67, 130)).astype(np.float32))
    x = rng.standard_normal((4, 130)).astype(np.float32)
    x[1, 7], x[2, 100] = np.nan, np.inf
    matmul = WeightMatMul()
    matmul.int8_activations = int8_activations
    out = matmul(Tensor(x), Tensor(values), Tensor(scale)).asnumpy()
    assert np.isnan(out[1]).all() and np.isnan(out[2]).all()
    finite_rows = matmul(Tensor(x[[0, 3]]), Tensor(values), Tensor(scale)).asnumpy()
    assert np.isfinite(finite_rows).all() and np.array_equal(out[[0, 3]], finite_rows)


@pytest.mark.skipif(kernels.op("matmul_int8") is None, reason="mf's kernels are not available")
def test_many_row_int8_products_dequantise_in_the_gemm_across_its_blocks():
    """Prefill-sized products: the GEMM dequantises int8 rows as it packs them, over two blocks of depth (1024 +
    76) and two of columns (1536 + 64), with a partial last panel; equal to the dequantised matrix's product."""
    rng = np.random.default_rng(7)
    values, scale = quantize_rows(rng.standard_normal((1600, 1100)).astype(np.float32))
    x = rng.standard_normal((40, 1100)).astype(np.float32)
    out = WeightMatMul()(Tensor(x), Tensor(values), Tensor(scale)).asnumpy()
    expected = x.astype(np.float64) @ (values * scale[:, None].astype(np.float64)).T
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("rows", [1, 3, 8, 16, 17, 40])
@pytest.mark.parametrize("width", [45, 130])  # under one 64-wide step, and two steps and a tail
def test_dynamic_int8_products_are_integer_sums_of_rows_rounded_to_int8(rows, width):
    """activation_dtype="int8": every row count takes SmallMatMulW8A8 (VNNI where the CPU has it), and
    MindSpore's ops without mf's kernels; both equal numpy's integer arithmetic."""
    rng = np.random.default_rng(rows * width)
    values, scale = quantize_rows(rng.standard_normal((67, width)).astype(np.float32))
    x = (rng.standard_normal((rows, width)) * np.linspace(0.1, 3, rows)[:, None]).astype(np.float32)
    if rows > 1:
        x[0, :] = 0.0  # an all-zero row: scale 1, products 0
    expected, one_step = dynamic_int8_reference(x, values, scale)
    matmul = WeightMatMul()
    matmul.int8_activations = True
    for out in (matmul(Tensor(x), Tensor(values), Tensor(scale)).asnumpy(),
                dynamic_int8_matmul(Tensor(x), Tensor(values), Tensor(scale)).asnumpy()):
        assert out.shape == (rows, 67)
        assert np.all(np.abs(out - expected) <= 1e-5 * np.abs(expected) + 1e-6 + 0.01 * one_step)
        assert rows == 1 or np.all(out[0] == 0)
    # and it is not the weight-only product: x itself was rounded
    weight_only = x.astype(np.float64) @ (values * scale[:, None].astype(np.float64)).T
    assert np.abs(expected - weight_only).max() > 1e-4


@pytest.mark.parametrize("bias", [True, False])
def test_a_dynamic_int8_linear_keeps_the_leading_shape_and_adds_its_bias(bias):
    rng = np.random.default_rng(7)
    layer = Linear(70, 33, bias=bias)
    if bias:
        layer.bias.set_data(Tensor(rng.standard_normal(33).astype(np.float32)))
    layer.quantize_weights()
    layer.int8_activations = True
    x = rng.standard_normal((2, 5, 70)).astype(np.float32)
    expected, one_step = dynamic_int8_reference(x.reshape(10, 70), layer.weight.asnumpy(), layer.weight_scale.asnumpy())
    if bias:
        expected = expected + layer.bias.asnumpy()
    out = layer(Tensor(x)).asnumpy()
    assert out.shape == (2, 5, 33)
    assert np.all(np.abs(out.reshape(10, 33) - expected) <= 1e-5 * np.abs(expected) + 1e-5 + 0.01 * one_step)


def test_dynamic_int8_is_saved_restored_and_can_be_switched_off(tmp_path):
    ms.set_seed(3)
    model = AutoModel.from_config(AutoConfig.from_pretrained("llama_tiny"))
    ids = np.random.default_rng(3).integers(5, 200, (1, 12)).astype(np.int32)
    first = model.generate(ids, max_new_tokens=6, do_sample=False, weight_dtype="int8", activation_dtype="int8")
    assert model.config.quantization_config["activation_dtype"] == "int8"
    dynamic_logits = model(Tensor(ids)).asnumpy()
    model.save_pretrained(tmp_path / "dynamic")
    loaded = AutoModel.from_pretrained(str(tmp_path / "dynamic"))
    assert loaded.config.quantization_config["activation_dtype"] == "int8"
    np.testing.assert_array_equal(loaded(Tensor(ids)).asnumpy(), dynamic_logits)
    assert np.array_equal(loaded.generate(ids, max_new_tokens=6, do_sample=False), first)
    # generate(weight_dtype="int8") alone keeps the products as they are
    assert np.array_equal(loaded.generate(ids, max_new_tokens=6, do_sample=False, weight_dtype="int8"), first)

    # the same int8 weights with float32 activations: the weight-only model's logits, which differ
    loaded.quantize("int8", activation_dtype="float32")
    assert "activation_dtype" not in loaded.config.quantization_config
    weight_only = loaded(Tensor(ids)).asnumpy()
    twin = dequantised_copy(loaded, "llama_tiny")
    np.testing.assert_allclose(weight_only, twin(Tensor(ids)).asnumpy(), atol=1e-4, rtol=1e-4)
    assert np.abs(weight_only - dynamic_logits).max() > 1e-5

    with pytest.raises(ConfigError, match="activation_dtype must be one of"):
        loaded.quantize("int8", activation_dtype="int4")
    fresh = AutoModel.from_config(AutoConfig.from_pretrained("gpt2_tiny"))
    with pytest.raises(ConfigError, match="int8 activations multiply int8 weights"):
        fresh.quantize("float32", activation_dtype="int8")
    with pytest.raises(ConfigError, match="int8 activations multiply int8 weights"):
        fresh.generate([[1, 2, 3]], max_new_tokens=2, activation_dtype="int8")
    assert quantization_settings(fresh) is None  # nothing half-done


def quantization_settings(model):
    return model.config.extra.get("quantization_config")


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
    model.quantize("int8", activation_dtype="int8")
    model.save_pretrained(tmp_path / "dynamic")
    outputs = []
    for folder, extra in (("float", ["--weight-dtype", "int8"]), ("int8", []),
                          ("float", ["--weight-dtype", "int8", "--activation-dtype", "int8"]), ("dynamic", [])):
        command = [sys.executable, "-m", "mf.cli", "generate", "--model", str(tmp_path / folder), "--tokenizer",
                   "gpt2_tiny", "--prompt", "The ship sailed", "--max-new-tokens", "12", *extra]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]  # quantised on the command line = saved quantised
    assert outputs[2] == outputs[3]  # the same for dynamic int8
    assert outputs[0].startswith("The ship sailed") and len(outputs[0]) > len("The ship sailed\n")
