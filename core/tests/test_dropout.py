"""Keyed dropout: masks are a function of (key, layer, element), the same in the kernel, the MindSpore-ops
fallback and the numpy definition, and the same mask scales the gradient."""
import numpy as np
import pytest
import mindspore as ms
from mindspore import Tensor, nn

from mf import kernels
from mf.nn import dropout as keyed


class Wrapper(nn.Cell):
    def __init__(self, p):
        super().__init__()
        self.drop = keyed.Dropout(p)

    def construct(self, x):
        return self.drop(x)


def _keyed(p, use_kernel=True):
    net = Wrapper(p)
    if not use_kernel:
        net.drop.fused = None
    assert keyed.key_dropouts(net) == 1
    net.set_train(True)
    return net


def _expected(x, p, key, name="drop"):
    seed = key * 2 ** 31 + keyed.stream_of(name)
    keep = keyed.keep_mask_reference(x.shape, seed, keyed._threshold(p))
    return np.where(keep, x * np.float32(2 ** 24 / keyed._threshold(p)), 0).astype(np.float32)


@pytest.mark.parametrize("shape, p", [((3, 5, 7), 0.1), ((2, 4, 16, 16), 0.5), ((1000,), 0.9)])
def test_masks_follow_the_definition_in_the_fallback_and_the_kernel(shape, p):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    key = keyed.set_dropout_key(seed=3, step=7, micro_batch=1, rank=0)
    expected = _expected(x, p, key)
    np.testing.assert_array_equal(_keyed(p, use_kernel=False)(Tensor(x)).asnumpy(), expected)
    if kernels.library() is not None:
        np.testing.assert_array_equal(_keyed(p)(Tensor(x)).asnumpy(), expected)


def test_keep_rate_and_scale_and_the_gradient_uses_the_same_mask():
    x = Tensor(np.ones((64, 1024), np.float32))
    net = _keyed(0.1)
    keyed.set_dropout_key(0, 0)
    y = net(x).asnumpy()
    assert abs((y != 0).mean() - 0.9) < 0.005
    np.testing.assert_allclose(y[y != 0], 1 / 0.9, rtol=1e-6)
    grad = ms.grad(net)(x).asnumpy()
    np.testing.assert_array_equal(grad, y)  # d(x * mask / keep)/dx with the forward's mask


def test_masks_change_with_step_micro_batch_and_rank_and_repeat_for_the_same_key():
    x = Tensor(np.ones((8, 256), np.float32))
    net = _keyed(0.5)
    masks = {}
    for where in [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)]:
        keyed.set_dropout_key(0, *where)
        masks[where] = net(x).asnumpy() != 0
    keyed.set_dropout_key(0, 0, 0, 0)
    np.testing.assert_array_equal(net(x).asnumpy() != 0, masks[(0, 0, 0)])
    others = [m for w, m in masks.items() if w != (0, 0, 0)]
    for mask in others:
        assert 0.3 < (mask != masks[(0, 0, 0)]).mean() < 0.7  # independent draws differ in about half


def test_layers_draw_different_masks_and_eval_mode_is_the_identity():
    class Two(nn.Cell):
        def __init__(self):
            super().__init__()
            self.first, self.second = keyed.Dropout(0.5), keyed.Dropout(0.5)

        def construct(self, x):
            return self.first(x), self.second(x)

    net = Two()
    keyed.key_dropouts(net)
    net.set_train(True)
    keyed.set_dropout_key(0, 0)
    a, b = (t.asnumpy() != 0 for t in net(Tensor(np.ones((16, 64), np.float32))))
    assert 0.3 < (a != b).mean() < 0.7
    net.set_train(False)
    x = Tensor(np.arange(6, dtype=np.float32))
    np.testing.assert_array_equal(net(x)[0].asnumpy(), x.asnumpy())


def test_unkeyed_dropout_is_mindspores_and_p_zero_builds_no_kernel():
    plain = Wrapper(0.5)
    plain.set_train(True)
    y = plain(Tensor(np.ones((32, 32), np.float32))).asnumpy()
    assert set(np.unique(y)) <= {0.0, 2.0} and 0.3 < (y == 0).mean() < 0.7
    assert keyed.Dropout(0.0).fused is None
