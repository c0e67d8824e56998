"""The fused CPU kernels give the same values and gradients as MindSpore's own ops."""
import os
import subprocess
import sys

import numpy as np
import pytest
import mindspore as ms
from mindspore import Tensor, ops

from mf import kernels
from mf.nn.losses import IGNORE_INDEX

pytestmark = pytest.mark.skipif(kernels.library() is None, reason="no C++ compiler to build mf's kernels")

RNG = np.random.default_rng(0)


def _grad(function, *inputs):
    return ms.value_and_grad(function, grad_position=tuple(range(len(inputs))))(*inputs)


def test_cross_entropy_matches_log_softmax_and_ignores_labels():
    logits = Tensor(RNG.standard_normal((6, 50)).astype(np.float32) * 3)
    labels = Tensor(np.array([1, 7, IGNORE_INDEX, 49, 0, IGNORE_INDEX], np.int32))
    fused = kernels.op("cross_entropy")
    loss, grads = _grad(lambda x, y: (fused(x, y)[0] * Tensor(np.arange(1, 7, dtype=np.float32))).sum(),
                        logits, labels)

    def reference(x, y):
        valid = y != IGNORE_INDEX
        safe = ops.where(valid, y, ops.zeros_like(y))
        nll = -ops.gather_elements(ops.log_softmax(x, -1), 1, safe.reshape(-1, 1)).reshape(-1)
        return (nll * valid.astype(ms.float32) * Tensor(np.arange(1, 7, dtype=np.float32))).sum()

    ref_loss, ref_grads = _grad(reference, logits, labels)
    assert abs(float(loss) - float(ref_loss)) < 1e-4
    np.testing.assert_allclose(grads[0].asnumpy(), ref_grads[0].asnumpy(), atol=1e-5, rtol=1e-5)
    assert (grads[0].asnumpy()[[2, 5]] == 0).all()


@pytest.mark.parametrize("name, approximate", [("gelu_tanh", "tanh"), ("gelu_erf", "none")])
def test_gelu_values_and_gradient(name, approximate):
    x = Tensor(RNG.standard_normal((4, 33)).astype(np.float32) * 3)
    fused = kernels.op(name)
    weight = Tensor(RNG.standard_normal((4, 33)).astype(np.float32))
    value, grads = _grad(lambda v: (fused(v) * weight).sum(), x)
    ref_value, ref_grads = _grad(lambda v: (ops.gelu(v, approximate=approximate) * weight).sum(), x)
    np.testing.assert_allclose(fused(x).asnumpy(), ops.gelu(x, approximate=approximate).asnumpy(), atol=1e-5)
    np.testing.assert_allclose(grads[0].asnumpy(), ref_grads[0].asnumpy(), atol=1e-5, rtol=1e-5)
    assert abs(float(value) - float(ref_value)) < 1e-4


@pytest.mark.parametrize("x_shape, out_features", [
    ((1, 1), 1), ((17, 5), 3),  # smaller than one register tile
    ((45, 130), 77),  # partial tiles in both directions
    ((30, 1100), 40),  # two blocks of depth (1024 + 76), the second added to the first
    ((50, 70), 1600),  # two column blocks (1536 + 64): A's packed blocks kept for the second
    ((2, 9, 33), 20),  # leading dimensions are rows
    ((128, 70), 96),  # a prompt's 128 rows: 9 tiles of 14 and the last 2 rows in a tile of their own height
    ((1000, 300), 700),  # rows split between threads (with 4 or more threads: a grid of rows x columns)
    # on AMX (products of 96 rows, 64 columns and 128 of depth or more): partial tiles, two blocks of depth (the
    # second partial in its last step of 32), two column blocks; and every gradient product on AMX
    ((100, 1100), 1600),
    ((300, 200), 150),
])
def test_matmul_and_both_gradient_products_match_numpy(x_shape, out_features):
    """The blocked GEMM behind Linear (x W^T) and its gradients (dy W, dy^T x), against float64 numpy."""
    x = RNG.standard_normal(x_shape).astype(np.float32)
    w = RNG.standard_normal((out_features, x_shape[-1])).astype(np.float32)
    dy = RNG.standard_normal(x_shape[:-1] + (out_features,)).astype(np.float32)
    fused = kernels.op("matmul")
    y = fused(Tensor(x), Tensor(w)).asnumpy()
    _, (dx, dw) = _grad(lambda a, b: (fused(a, b) * Tensor(dy)).sum(), Tensor(x), Tensor(w))
    x64, w64, dy64 = x.astype(np.float64), w.astype(np.float64), dy.astype(np.float64)
    rows_x, rows_dy = x64.reshape(-1, x.shape[-1]), dy64.reshape(-1, out_features)
    # float32 sums of k products: error grows like sqrt(k) times the terms' size
    tolerance = 1e-6 * np.sqrt(x.shape[-1] * max(out_features, rows_x.shape[0]))
    np.testing.assert_allclose(y, x64 @ w64.T, rtol=1e-5, atol=tolerance)
    np.testing.assert_allclose(dx.asnumpy(), dy64 @ w64, rtol=1e-5, atol=tolerance)
    np.testing.assert_allclose(dw.asnumpy(), rows_dy.T @ rows_x, rtol=1e-5, atol=tolerance)


@pytest.mark.parametrize("x_shape, out_features", [
    ((17, 5), 3), ((45, 130), 77), ((30, 1100), 40), ((50, 70), 1600), ((2, 9, 33), 20), ((1000, 300), 700),
])
def test_matmul_with_bias_equals_the_product_then_the_bias_and_has_its_three_gradients(x_shape, out_features):
    """x W^T + b in one kernel (the bias added to each tile after its last block of depth): the same floats as
    the product followed by the bias add, and gradients dy W, dy^T x and the column sums of dy."""
    x = RNG.standard_normal(x_shape).astype(np.float32)
    w = RNG.standard_normal((out_features, x_shape[-1])).astype(np.float32)
    b = RNG.standard_normal(out_features).astype(np.float32)
    dy = RNG.standard_normal(x_shape[:-1] + (out_features,)).astype(np.float32)
    fused = kernels.op("matmul_bias")
    y = fused(Tensor(x), Tensor(w), Tensor(b)).asnumpy()
    unfused = kernels.op("bias_add")(kernels.op("matmul")(Tensor(x), Tensor(w)), Tensor(b)).asnumpy()
    np.testing.assert_array_equal(y, unfused)
    _, (dx, dw, db) = _grad(lambda a, c, d: (fused(a, c, d) * Tensor(dy)).sum(), Tensor(x), Tensor(w), Tensor(b))
    x64, w64, dy64 = x.astype(np.float64), w.astype(np.float64), dy.astype(np.float64)
    rows_x, rows_dy = x64.reshape(-1, x.shape[-1]), dy64.reshape(-1, out_features)
    tolerance = 1e-6 * np.sqrt(x.shape[-1] * max(out_features, rows_x.shape[0]))
    np.testing.assert_allclose(y, x64 @ w64.T + b, rtol=1e-5, atol=tolerance)
    np.testing.assert_allclose(dx.asnumpy(), dy64 @ w64, rtol=1e-5, atol=tolerance)
    np.testing.assert_allclose(dw.asnumpy(), rows_dy.T @ rows_x, rtol=1e-5, atol=tolerance)
    np.testing.assert_allclose(db.asnumpy(), rows_dy.sum(0), rtol=1e-5, atol=tolerance)


# (45, 130): the float32 kernel; (130, 1100): AMX where the CPU has it (two blocks of depth, partial tiles)
@pytest.mark.parametrize("rows, depth", [(45, 130), (130, 1100)])
def test_int8_matmul_with_bias_equals_the_int8_product_then_the_bias(rows, depth):
    x = RNG.standard_normal((rows, depth)).astype(np.float32)
    w = RNG.integers(-127, 128, (1600, depth)).astype(np.int8)  # two column blocks
    scale = RNG.uniform(0.001, 0.01, 1600).astype(np.float32)
    b = RNG.standard_normal(1600).astype(np.float32)
    y = kernels.op("matmul_int8_bias")(Tensor(x), Tensor(w), Tensor(scale), Tensor(b)).asnumpy()
    product = kernels.op("matmul_int8")(Tensor(x), Tensor(w), Tensor(scale)).asnumpy()
    np.testing.assert_array_equal(y, product + b)
    exact = x.astype(np.float64) @ (w * scale[:, None].astype(np.float64)).T + b
    np.testing.assert_allclose(y, exact, rtol=1e-5, atol=1e-6 * np.sqrt(depth) * np.abs(exact).max())


@pytest.mark.parametrize("rows, columns, depth", [(130, 100, 128), (40, 50, 20)])
def test_int8_products_are_exact_where_float32_is_exact(rows, columns, depth):
    """One weight of +-1..127 per row with a power-of-two scale: x (w * scale)^T picks one value of x per column
    and multiplies it by an integer and a power of two, exact in float32 when the integer has few bits (here
    powers of two up to 64 as well). On AMX (the first shape) all three bfloat16 pieces of x must arrive."""
    x = RNG.standard_normal((rows, depth)).astype(np.float32)
    picked = RNG.integers(0, depth, columns)
    w = np.zeros((columns, depth), np.int8)
    w[np.arange(columns), picked] = 2 ** RNG.integers(0, 7, columns) * RNG.choice([-1, 1], columns)
    scale = (2.0 ** RNG.integers(-10, 0, columns)).astype(np.float32)
    y = kernels.op("matmul_int8")(Tensor(x), Tensor(w), Tensor(scale)).asnumpy()
    weights = w[np.arange(columns), picked].astype(np.float32) * scale
    np.testing.assert_array_equal(y, x[:, picked] * weights)


def test_matmul_on_four_threads_splits_rows_and_columns_and_matches_numpy():
    """CI has two cores; with four threads the GEMM splits a product both ways (two row groups x two column
    groups, each thread using B's panels that others packed). The same checks, in a process with 4 threads."""
    env = {**os.environ, "OMP_NUM_THREADS": "4"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                          f"{__file__}::test_matmul_and_both_gradient_products_match_numpy"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and " passed" in run.stdout, run.stdout[-3000:] + run.stderr[-2000:]


def _cpu_has_amx():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((set(line.split(":", 1)[1].split()) for line in f if line.startswith("flags")), set())
    except OSError:
        return False
    return {"amx_tile", "amx_bf16", "avx512bw"} <= flags


@pytest.mark.skipif(not _cpu_has_amx() or os.environ.get("MF_GEMM") == "fp32"
                    or os.environ.get("MF_KERNEL_ARCH", "native") != "native",
                    reason="needs a CPU with AMX (Intel Xeon Sapphire Rapids or later), the kernels built for it (AMX "
                           "comes with -march=native's AVX-512) and not turned off by MF_GEMM")
def test_products_run_on_amx_where_the_cpu_has_it():
    """Linux lists the amx flags only where it supports the tiles: the kernels must then have asked for them and
    got them (under pytest too, whose faulthandler sets up an alternate signal stack before they ask)."""
    assert kernels.gemm_kind() == "amx-bf16x6"


@pytest.mark.parametrize("rows, columns, depth", [(130, 100, 128), (96, 64, 300), (40, 50, 20)])
def test_products_are_exact_where_float32_is_exact(rows, columns, depth):
    """Each row of W holds one power of two and zeros, so x W^T picks one value of x per column and scales it:
    exact in float32. Every bit of x's 24-bit mantissa must arrive, which on AMX (the first two shapes; the last is
    too small for it) means all three bfloat16 pieces of each value: with one dropped the error would be 2^-16 or
    2^-8 of the value. The weight gradient dy^T x, with dy one-hot the same way, is exact too (on AMX for the
    first shape)."""
    x = RNG.standard_normal((rows, depth)).astype(np.float32)
    picked = RNG.integers(0, depth, columns)
    w = np.zeros((columns, depth), np.float32)
    w[np.arange(columns), picked] = 2.0 ** RNG.integers(-20, 20, columns) * RNG.choice([-1, 1], columns)
    y = kernels.op("matmul")(Tensor(x), Tensor(w)).asnumpy()
    np.testing.assert_array_equal(y, x[:, picked] * w[np.arange(columns), picked])
    # dW [columns, depth] = dy [rows, columns]^T x [rows, depth] with dy's columns one-hot over rows
    dy = np.zeros((rows, columns), np.float32)
    hot = RNG.integers(0, rows, columns)
    dy[hot, np.arange(columns)] = 2.0 ** RNG.integers(-20, 20, columns)
    dw = kernels.op("matmul_weight_grad")(Tensor(dy), Tensor(x)).asnumpy()
    np.testing.assert_array_equal(dw, dy[hot, np.arange(columns)][:, None] * x[hot])


def test_matmul_of_an_empty_inner_dimension_is_zero():
    y = kernels.op("matmul")(Tensor(np.zeros((3, 0), np.float32)), Tensor(np.zeros((4, 0), np.float32)))
    assert y.shape == (3, 4) and (y.asnumpy() == 0).all()


def test_layer_norm_values_and_gradients():
    x = Tensor(RNG.standard_normal((2, 5, 24)).astype(np.float32) * 2 + 1)
    gamma = Tensor(RNG.standard_normal(24).astype(np.float32))
    beta = Tensor(RNG.standard_normal(24).astype(np.float32))
    eps = Tensor(np.array([1e-5], np.float32))
    weight = Tensor(RNG.standard_normal((2, 5, 24)).astype(np.float32))
    fused = kernels.op("layer_norm")
    reference = ops.LayerNorm(begin_norm_axis=-1, begin_params_axis=-1, epsilon=1e-5)
    _, grads = _grad(lambda a, g, b: (fused(a, g, b, eps)[0] * weight).sum(), x, gamma, beta)
    _, ref_grads = _grad(lambda a, g, b: (reference(a, g, b)[0] * weight).sum(), x, gamma, beta)
    np.testing.assert_allclose(fused(x, gamma, beta, eps)[0].asnumpy(), reference(x, gamma, beta)[0].asnumpy(),
                               atol=1e-5)
    for mine, theirs in zip(grads, ref_grads):
        np.testing.assert_allclose(mine.asnumpy(), theirs.asnumpy(), atol=1e-4)


def test_bias_add_gradient_sums_rows():
    x = Tensor(RNG.standard_normal((7, 5)).astype(np.float32))
    bias = Tensor(RNG.standard_normal(5).astype(np.float32))
    weight = Tensor(RNG.standard_normal((7, 5)).astype(np.float32))
    fused = kernels.op("bias_add")
    _, grads = _grad(lambda a, b: (fused(a, b) * weight).sum(), x, bias)
    np.testing.assert_allclose(fused(x, bias).asnumpy(), (x + bias).asnumpy(), atol=1e-6)
    np.testing.assert_allclose(grads[0].asnumpy(), weight.asnumpy(), atol=1e-6)
    np.testing.assert_allclose(grads[1].asnumpy(), weight.asnumpy().sum(0), atol=1e-5)


def test_sum_of_squares():
    x = RNG.standard_normal((100, 37)).astype(np.float32)
    assert abs(float(kernels.op("sum_of_squares")(Tensor(x)).asnumpy()[0]) - float((x.astype(np.float64) ** 2).sum())) < 1e-2


@pytest.mark.parametrize("batch, heads, groups, length, keys, dim", [
    (2, 4, 4, 5, 5, 8), (3, 6, 2, 7, 7, 16), (1, 2, 1, 9, 9, 4),
    (2, 2, 1, 150, 150, 20),  # several chunks of query rows, a head size that is not a whole register tile
    (2, 3, 3, 3, 70, 12),  # cross-attention: fewer queries than keys, padding mask only
    (2, 4, 4, 17, 50, 32),  # a small ViT's head size over a row of keys that is not whole vectors
])
def test_fused_attention_matches_unfused_with_masks_and_grouped_heads(batch, heads, groups, length, keys, dim):
    from mf.nn import DotProductAttention, Dropout, causal_mask_bias, padding_mask_bias

    rng = np.random.default_rng(0)
    query = Tensor(rng.standard_normal((batch, length, heads, dim)).astype(np.float32))
    key, value = (Tensor(rng.standard_normal((batch, keys, groups, dim)).astype(np.float32)) for _ in range(2))
    mask = np.ones((batch, keys), np.int32)
    mask[0, :2] = 0  # left padding: with the causal mask, batch 0's first query row sees no key at all
    bias = padding_mask_bias(Tensor(mask))
    if length == keys:
        bias = bias + causal_mask_bias(length)
    weights = Tensor(rng.standard_normal((batch, length, heads * dim)).astype(np.float32))
    fused = DotProductAttention(0.3, Dropout(0.0))
    assert fused.fused is not None
    plain = DotProductAttention(0.3, Dropout(0.0))
    plain.fused = None

    def results(attention):
        def loss(q, k, v):
            return (attention(q, k, v, bias) * weights).sum()
        value_, grads = ms.value_and_grad(loss, (0, 1, 2))(query, key, value)
        return [value_.asnumpy()] + [g.asnumpy() for g in grads]

    for a, b in zip(results(fused), results(plain)):
        np.testing.assert_allclose(a, b, atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("bias_batch, bias_rows", [(1, 6), (2, 6), (2, 1)])
def test_fused_attention_takes_a_bias_per_head_in_inference_and_leaves_training_to_the_unfused_path(bias_batch,
                                                                                                    bias_rows):
    """A bias [B or 1, heads, T or 1, L] (T5's relative positions, ALiBi) goes through the kernel in inference, with
    grouped key/value heads and a hidden key; in training it takes MindSpore's ops, whose gradient reaches the bias
    (the kernel's backward gives it none)."""
    from mf.nn import DotProductAttention, Dropout

    rng = np.random.default_rng(3)
    query = Tensor(rng.standard_normal((2, 6, 4, 8)).astype(np.float32))
    key, value = (Tensor(rng.standard_normal((2, 9, 2, 8)).astype(np.float32)) for _ in range(2))
    bias = rng.standard_normal((bias_batch, 4, bias_rows, 9)).astype(np.float32)
    bias[-1, 2, 0, 3] = -1e9  # a hidden key, in one head only
    bias = Tensor(bias)
    fused = DotProductAttention(0.3, Dropout(0.0))
    plain = DotProductAttention(0.3, Dropout(0.0))
    plain.fused = None
    fused.set_train(False)
    plain.set_train(False)
    assert fused.kernel_takes(bias, 4)
    np.testing.assert_allclose(fused(query, key, value, bias).asnumpy(), plain(query, key, value, bias).asnumpy(),
                               atol=2e-6, rtol=1e-5)
    fused.set_train(True)
    plain.set_train(True)
    assert not fused.kernel_takes(bias, 4)
    weights = Tensor(rng.standard_normal((2, 6, 32)).astype(np.float32))
    grads = [ms.grad(lambda b: (attention(query, key, value, b) * weights).sum())(bias).asnumpy()
             for attention in (fused, plain)]
    assert np.abs(grads[0]).max() > 1e-3
    np.testing.assert_allclose(grads[0], grads[1], atol=1e-6)


def test_fused_attention_passes_a_nan_score_on_to_its_rows():
    """A NaN key makes the output of every query that sees it NaN, as MindSpore's softmax does (so that it reaches
    the loss): not a probability of 0 for that key. 20 keys: the NaN's vector lane is used again by key 19."""
    from mf.nn import DotProductAttention, Dropout, padding_mask_bias

    rng = np.random.default_rng(2)
    query = Tensor(rng.standard_normal((2, 5, 2, 8)).astype(np.float32))
    key = rng.standard_normal((2, 20, 2, 8)).astype(np.float32)
    key[1, 3, 0, 4] = np.nan
    value = Tensor(rng.standard_normal((2, 20, 2, 8)).astype(np.float32))
    bias = padding_mask_bias(Tensor(np.ones((2, 20), np.int32)))
    attention = DotProductAttention(0.3, Dropout(0.0))
    assert attention.fused is not None
    out = attention(query, Tensor(key), value, bias).asnumpy().reshape(2, 5, 2, 8)
    assert np.isnan(out[1, :, 0]).all()
    out[1, :, 0] = 0
    assert np.isfinite(out).all()


@pytest.mark.parametrize("batch, heads, length, dim", [(2, 4, 5, 8), (2, 3, 150, 20), (1, 1, 2, 16)])
def test_attention_on_packed_qkv_equals_attention_on_its_parts(batch, heads, length, dim):
    """q, k, v read in place from one [B, T, 3, H, D] tensor (GPT-2's c_attn output): the same floats as the
    fused kernel on the split tensors, and the gradient of the packed tensor is theirs side by side; the unfused
    fallback (no kernel) agrees too."""
    from mf.nn import DotProductAttention, Dropout, causal_mask_bias, padding_mask_bias

    rng = np.random.default_rng(1)
    qkv = Tensor(rng.standard_normal((batch, length, 3, heads, dim)).astype(np.float32))
    mask = np.ones((batch, length), np.int32)
    mask[0, :1] = 0
    bias = padding_mask_bias(Tensor(mask)) + causal_mask_bias(length)
    weights = Tensor(rng.standard_normal((batch, length, heads * dim)).astype(np.float32))
    attention = DotProductAttention(0.25, Dropout(0.0))
    assert attention.fused_packed is not None
    packed_loss, packed_grad = ms.value_and_grad(lambda t: (attention.packed(t, bias) * weights).sum(), 0)(qkv)
    parts = [Tensor(part) for part in np.moveaxis(qkv.asnumpy(), 2, 0)]
    split_loss, split_grads = ms.value_and_grad(
        lambda q, k, v: (attention(q, k, v, bias) * weights).sum(), (0, 1, 2))(*parts)
    np.testing.assert_array_equal(packed_loss.asnumpy(), split_loss.asnumpy())
    np.testing.assert_array_equal(packed_grad.asnumpy(), np.stack([g.asnumpy() for g in split_grads], axis=2))
    attention.fused_packed = attention.fused = None  # MindSpore's ops on the unstacked parts
    plain_loss, plain_grad = ms.value_and_grad(lambda t: (attention.packed(t, bias) * weights).sum(), 0)(qkv)
    np.testing.assert_allclose(plain_loss.asnumpy(), packed_loss.asnumpy(), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(plain_grad.asnumpy(), packed_grad.asnumpy(), rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize("batch, heads, groups, per_head_bias, length, index, slots, dim", [
    (1, 4, 4, False, 1, 5, 11, 16),  # one decoded token, as many key/value heads as query heads
    (3, 6, 2, False, 1, 5, 11, 16),  # grouped-query attention, a left-padded row
    (2, 4, 1, True, 1, 5, 11, 16),   # one key/value head (multi-query), ALiBi-like bias per head
    (3, 6, 2, False, 6, 0, 11, 16),  # a prompt's prefill (the heads-major attention kernel): grouped heads, padded row
    (2, 4, 4, False, 3, 4, 11, 16),  # a prompt continued after cached tokens
    (2, 4, 1, True, 4, 0, 11, 16),   # a prompt with a bias per head (MindSpore's ops)
    # a decoded token over a longer cache, at the head sizes the decoding kernel keeps in registers (64, 128)
    (2, 6, 2, False, 1, 140, 150, 64),
    (1, 4, 1, True, 1, 70, 130, 128),
])
@pytest.mark.parametrize("token_major", [False, True])
def test_cached_attention_writes_the_cache_and_attends_like_numpy(batch, heads, groups, per_head_bias, length,
                                                                   index, slots, dim, token_major):
    """DotProductAttention.cached in a compiled graph, for one decoded token (the fused decoding kernel) and
    for a prompt (the heads-major attention kernel), and cached_tokens on token-major tensors (a prompt: the
    kernel that writes the caches and attends): the new keys and values land in their cache rows (nothing
    else changes) and each query row's output is softmax attention over the slots it may see, computed here
    in float64."""
    from mindspore import nn, Parameter
    from mf.nn import DotProductAttention, Dropout, cache_mask_bias, kv_cache_shape

    scale = 0.25
    rng = np.random.default_rng(batch * 10 + heads + length)
    key_cache, value_cache = (rng.standard_normal(kv_cache_shape(batch, groups, slots, dim)).astype(np.float32)
                              for _ in range(2))
    query = rng.standard_normal((batch, heads, length, dim)).astype(np.float32)
    key, value = (rng.standard_normal((batch, groups, length, dim)).astype(np.float32) for _ in range(2))
    slot_mask = np.ones((batch, slots), np.float32)
    slot_mask[-1, :2] = 0  # the last row is left-padded
    bias = cache_mask_bias(Tensor(slot_mask), Tensor(index, ms.int32), length).asnumpy()  # [B, 1, T, L]
    if per_head_bias:
        bias = bias - np.abs(rng.standard_normal((1, heads, 1, slots))).astype(np.float32)

    class Step(nn.Cell):
        def __init__(self):
            super().__init__()
            self.key_cache = Parameter(Tensor(key_cache), name="key_cache", requires_grad=False)
            self.value_cache = Parameter(Tensor(value_cache), name="value_cache", requires_grad=False)
            self.attend = DotProductAttention(scale, Dropout(0.0))

        def construct(self, q, k, v, cache_index, attention_bias):
            if token_major:
                return self.attend.cached_tokens(q, k, v, self.key_cache, self.value_cache, cache_index,
                                                 attention_bias)
            return self.attend.cached(q, k, v, self.key_cache, self.value_cache, cache_index, attention_bias)

    step = Step()
    step.set_train(False)
    assert None not in (step.attend.decode, step.attend.fused_over_cache, step.attend.prefill)
    inputs = [query, key, value]
    if token_major:
        inputs = [np.ascontiguousarray(x.transpose(0, 2, 1, 3)) for x in inputs]
    mode = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        out = step(*map(Tensor, inputs), Tensor(index, ms.int32), Tensor(bias)).asnumpy()
    finally:
        ms.set_context(mode=mode)
    if token_major:  # [B, T, heads * d] -> [B, heads, T, d]
        out = out.reshape(batch, length, heads, dim).transpose(0, 2, 1, 3)

    expected_keys, expected_values = key_cache.copy(), value_cache.copy()
    rows = (np.arange(batch * groups) * slots + index)[:, None] + np.arange(length)
    expected_keys[rows.reshape(-1)] = key.reshape(-1, dim)
    expected_values[rows.reshape(-1)] = value.reshape(-1, dim)
    np.testing.assert_array_equal(step.key_cache.asnumpy(), expected_keys)
    np.testing.assert_array_equal(step.value_cache.asnumpy(), expected_values)
    assert np.isfinite(out).all()  # a padded query row that sees no slot gives finite values nobody reads
    keys = expected_keys.astype(np.float64).reshape(batch, groups, slots, dim)
    values = expected_values.astype(np.float64).reshape(batch, groups, slots, dim)
    checked = 0
    for b in range(batch):
        for h in range(heads):
            g = h // (heads // groups)
            for t in range(length):
                row_bias = bias[b, h if per_head_bias else 0, t]
                if (row_bias < -1e8).all():
                    continue
                scores = keys[b, g] @ query[b, h, t] * scale + row_bias
                weights = np.exp(scores - scores.max())
                expected = weights @ values[b, g] / weights.sum()
                np.testing.assert_allclose(out[b, h, t], expected, rtol=1e-5, atol=1e-5)
                checked += 1
    assert checked >= batch * heads


@pytest.mark.parametrize("x_shape, angle_shape", [((2, 5, 3, 8), (2, 5, 1, 4)), ((2, 3, 5, 8), (2, 1, 5, 4)),
                                                   ((1, 4, 2, 6), (1, 4, 1, 3))])
def test_rotary_matches_unfused_and_rotates_gradients_back(x_shape, angle_shape):
    from mf.nn import Rotary
    from mf.nn.attention import apply_rotary

    x = Tensor(RNG.standard_normal(x_shape).astype(np.float32))
    angles = RNG.standard_normal(angle_shape).astype(np.float32)
    cos, sin = Tensor(np.cos(angles)), Tensor(np.sin(angles))
    weights = Tensor(RNG.standard_normal(x_shape).astype(np.float32))
    rotary = Rotary()
    assert rotary.fused is not None

    def fused(x):
        return (rotary(x, cos, sin) * weights).sum()

    def plain(x):
        return (apply_rotary(x, cos, sin) * weights).sum()

    (a, da), (b, db) = _grad(fused, x), _grad(plain, x)
    np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(da[0].asnumpy(), db[0].asnumpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [ms.float64, ms.float16])
def test_a_tensor_that_is_not_float32_is_refused_not_misread(dtype):
    """The kernels read float inputs as float32; a float64 tensor used to come back as silent garbage."""
    from mf.errors import MFError

    with pytest.raises(MFError, match=r"GeluTanhForward: input 0 is Float(64|16).*astype\(mindspore.float32\)"):
        kernels.op("gelu_tanh")(Tensor(np.ones((2, 3)), dtype))
    with pytest.raises(MFError, match=r"SmallMatMulInt8: input 0 is Float"):  # int8 weights pass the check
        kernels.op("small_matmul_int8")(Tensor(np.ones((1, 4)), dtype), Tensor(np.ones((3, 4), np.int8)),
                                         Tensor(np.ones(3, np.float32)))
    values = kernels.op("small_matmul_int8")(Tensor(np.ones((1, 4), np.float32)), Tensor(np.ones((3, 4), np.int8)),
                                             Tensor(np.full(3, 0.5, np.float32)))
    np.testing.assert_allclose(values.asnumpy(), [[2.0, 2.0, 2.0]])


def test_disabled_by_environment(monkeypatch):
    monkeypatch.setenv("MF_KERNELS", "0")
    assert kernels.op("gelu_tanh") is None
    assert "disabled" in kernels.status()


@pytest.fixture
def fresh_kernels(monkeypatch, tmp_path):
    """A kernels module that has not looked for its library yet (restored afterwards), with its own cache."""
    monkeypatch.setattr(kernels, "_library", None)
    monkeypatch.setattr(kernels, "_failed", None)
    monkeypatch.setattr(kernels, "_ops", {})
    monkeypatch.setenv("MF_KERNEL_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_an_unknown_gemm_choice_is_named_not_ignored(monkeypatch):
    kernels.library()  # built (or found) in this session's kernel cache first; then looked up afresh
    monkeypatch.setattr(kernels, "_library", None)
    monkeypatch.setattr(kernels, "_failed", None)
    monkeypatch.setenv("MF_GEMM", "amx")
    with pytest.warns(UserWarning, match=r"MF_GEMM='amx' is not a choice.*MF_GEMM=fp32"):
        assert kernels.library() is not None


@pytest.mark.parametrize("cxx", ["/nonexistent/g++", "/nonexistent/ccache g++"])
def test_a_compiler_that_does_not_run_falls_back_to_mindspores_ops(fresh_kernels, monkeypatch, cxx):
    monkeypatch.setenv("CXX", cxx)
    with pytest.warns(UserWarning, match="does not run"):
        assert kernels.library() is None
    assert kernels.op("gelu_tanh") is None and "unavailable" in kernels.status()


def test_cxx_is_split_like_a_shell_command(monkeypatch):
    monkeypatch.setenv("CXX", "ccache g++ -Wno-unused")
    assert kernels._compiler_command() == ["ccache", "g++", "-Wno-unused"]


def test_a_damaged_cached_library_is_rebuilt_not_loaded(fresh_kernels):
    """A cached library whose bytes no longer match the checksum written at build time (truncated, emptied) is
    built again instead of being loaded (which would kill the process with SIGBUS or fail in dlopen)."""
    built = kernels.library()
    assert built is not None and kernels._is_whole(built)
    whole = built.read_bytes()
    for damaged in (whole[: len(whole) // 2], b""):
        built.write_bytes(damaged)
        assert not kernels._is_whole(built)
    kernels._library = None
    assert kernels.library() == built and built.read_bytes() == whole


def test_an_unwritable_kernel_cache_builds_for_the_process(fresh_kernels, monkeypatch):
    blocker = fresh_kernels / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MF_KERNEL_CACHE", str(blocker / "cache"))
    with pytest.warns(UserWarning, match="cannot be written"):
        built = kernels.library()
    assert built is not None and kernels._is_whole(built) and blocker not in built.parents


def test_a_kernel_cache_removed_mid_run_is_rebuilt(fresh_kernels):
    import shutil

    first = kernels.library()
    assert first is not None and kernels.op("gelu_tanh") is not None
    shutil.rmtree(first.parent)
    assert kernels.op("gelu_tanh") is not None and kernels.library() == first and first.is_file()


def test_not_used_when_the_device_is_not_the_cpu(monkeypatch):
    monkeypatch.setattr(kernels, "_device_target", lambda: "ASCEND")
    assert not kernels.enabled() and kernels.op("gelu_tanh") is None
    assert "not used on ASCEND" in kernels.status()


def test_cross_entropy_fused_and_fallback_agree_on_wrong_labels_and_non_finite_logits():
    """-100 is ignored; any other label outside [0, V) and any NaN/inf logit give NaN (never a silent 0),
    in the kernel (built with finite-math off) as in the MindSpore fallback."""
    from mf.nn.losses import TokenCrossEntropy

    logits = RNG.standard_normal((6, 40)).astype(np.float32)
    logits[3, 5], logits[4, :] = np.nan, -np.inf
    labels = Tensor(np.array([40, -1, IGNORE_INDEX, 2, 2, 7], np.int32))
    fused = TokenCrossEntropy()
    fallback = TokenCrossEntropy()
    fallback.fused = None
    for loss in (fused(Tensor(logits), labels).asnumpy(), fallback(Tensor(logits), labels).asnumpy()):
        assert np.isnan(loss[[0, 1, 3, 4]]).all() and loss[2] == 0 and np.isfinite(loss[5])


def test_loading_the_kernels_keeps_subnormal_numbers_for_the_whole_process():
    """Linking with -ffast-math would add crtfastmath.o: loading the library would switch on flush-to-zero for
    numpy and MindSpore too (found by the fuzz suite: hypothesis refused to run after the kernels loaded)."""
    kernels.op("gelu_tanh")(Tensor(np.ones(4, np.float32)))  # the library is loaded by its first call
    tiny = np.array([1e-40], np.float32)
    assert (tiny * np.float32(1.5))[0] > 0
