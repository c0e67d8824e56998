"""joint_linear: Linear layers that read the same input, run as one product over their stacked weights."""
import numpy as np
import pytest
import mindspore as ms
from mindspore import Tensor, ops

from mf.nn import Linear, can_join, joint_linear

RNG = np.random.default_rng(0)


def _layers(bias, widths=(12, 12, 8), depth=10):
    ms.set_seed(0)
    layers = [Linear(depth, width, bias=bias) for width in widths]
    for layer in layers:  # non-zero biases, so that a misplaced one shows
        if bias:
            layer.bias.set_data(Tensor(RNG.standard_normal(layer.bias.shape).astype(np.float32)))
    return layers


@pytest.mark.parametrize("rows", [5, 40])  # the streaming kernel (few rows) and the GEMM with the bias inside
@pytest.mark.parametrize("bias", [True, False])
def test_joint_linear_equals_the_layers_side_by_side_with_the_same_gradients(rows, bias):
    layers = _layers(bias)
    assert can_join(layers)
    x = Tensor(RNG.standard_normal((2, rows, 10)).astype(np.float32))
    weights = Tensor(RNG.standard_normal((2, rows, 32)).astype(np.float32))
    params = [p for layer in layers for p in (layer.weight, layer.bias) if p is not None]

    def joint(x_):
        return (joint_linear(x_, layers) * weights).sum()

    def separate(x_):
        return (ops.concat([layer(x_) for layer in layers], -1) * weights).sum()

    joint_value, (joint_dx, joint_dparams) = ms.value_and_grad(joint, 0, params)(x)
    separate_value, (separate_dx, separate_dparams) = ms.value_and_grad(separate, 0, params)(x)
    np.testing.assert_allclose(joint_value.asnumpy(), separate_value.asnumpy(), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(joint_dx.asnumpy(), separate_dx.asnumpy(), rtol=1e-5, atol=1e-5)
    assert len(joint_dparams) == len(params)
    for mine, theirs in zip(joint_dparams, separate_dparams):
        np.testing.assert_allclose(mine.asnumpy(), theirs.asnumpy(), rtol=1e-5, atol=1e-4)
    out = joint_linear(x, layers).asnumpy()
    assert out.shape == (2, rows, 32)
    np.testing.assert_allclose(out[..., 24:], layers[2](x).asnumpy(), rtol=1e-5, atol=1e-5)


def test_layers_that_are_not_plain_float32_products_are_not_joined():
    from mf.pet.lora import apply_lora

    assert not can_join(_layers(True)[:1] + _layers(False)[:1])  # a bias in one only
    assert not can_join([Linear(10, 4), Linear(9, 4)])  # different inputs widths
    quantized = _layers(True)
    quantized[1].quantize_weights()
    assert not can_join(quantized)

    class Block(ms.nn.Cell):
        def __init__(self):
            super().__init__()
            self.query, self.key, self.value = _layers(True)

    block = Block()
    assert can_join((block.query, block.key, block.value))
    apply_lora(block, target_modules=["query", "value"], r=2)
    assert not can_join((block.query, block.key, block.value))
