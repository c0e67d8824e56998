"""Dropout whose masks are a function of (seed, step, micro-batch, rank, layer): resumable and layout-free.

MindSpore's graph-mode dropout keeps its random state inside each compiled kernel, where no checkpoint can
reach it, so a resumed run draws different masks from the uninterrupted one. Here a mask element is a hash
of (key, stream, element index) instead:

- the key is one int64 scalar Parameter held at module level (not in any model, so never saved, trained or
  sharded): the Trainer sets it before every micro-batch from (seed, step, micro-batch, data-parallel
  rank) with `set_dropout_key`;
- the stream is a constant per Dropout cell: a hash of the cell's name in the model (`key_dropouts`), so a
  pipeline stage or a recomputed forward draws exactly the masks of the same layer in one process.

Resuming at step N therefore redraws step N's masks, and recomputation reproduces them. The hash is
murmur3's 32-bit finaliser; the fused kernel and the MindSpore-ops fallback compute the same bits (the
fallback splits its multiplications into 16-bit halves so no int64 product overflows).

Models used outside the Trainer keep MindSpore's own (stateful) dropout unless `key_dropouts` was called:
a hand-written loop that keys its dropouts must call `set_dropout_key` every step, or every step would
draw the same masks.
"""
import zlib

import mindspore as ms
import numpy as np
from mindspore import Parameter, Tensor, nn, ops

from .. import compile_cache, kernels

# Read inside compiled graphs as a live value (a module-level Parameter is not folded into a constant).
DROPOUT_KEY = Parameter(Tensor(0, ms.int64), name="mf_dropout_key", requires_grad=False)
compile_cache.share_parameter(DROPOUT_KEY)  # graphs loaded from the compile cache read this one, not a copy

_MASK32 = 0xFFFFFFFF
_GOLDEN = 0x9E3779B9
_MIX = 0x68E31DA4
# A keep threshold on 24 random bits: keep = threshold / 2**24.
_BITS = 24


def set_dropout_key(seed: int, step: int, micro_batch: int = 0, rank: int = 0) -> int:
    """Key the next forward passes' dropout masks by (seed, step, micro-batch, data-parallel rank)."""
    words = np.random.SeedSequence([int(seed), int(step), int(micro_batch), int(rank)]).generate_state(1)
    key = int(words[0]) & 0x7FFFFFFF  # 31 bits: key * 2**31 + stream stays below 2**62
    DROPOUT_KEY.set_data(Tensor(key, ms.int64))
    return key


def stream_of(name: str) -> int:
    """The constant that separates one Dropout cell's masks from another's: a hash of its name."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def key_dropouts(model) -> int:
    """Give every mf Dropout in `model` its stream and switch it to keyed masks; returns how many."""
    count = 0
    for name, cell in model.cells_and_names():
        if isinstance(cell, Dropout):
            cell.stream = Tensor(stream_of(name), ms.int64)
            cell.keyed = True
            count += 1
    return count


def _threshold(p: float) -> int:
    return int(round((1.0 - p) * 2 ** _BITS))


def _const(value):
    return Tensor(value, ms.int64)


def _fmix32(h):
    """murmur3's finaliser on int64 tensors holding uint32 values."""
    h = ops.bitwise_xor(h, ops.bitwise_right_shift(h, _const(16)))
    h = _mul32(h, 0x85EBCA6B)
    h = ops.bitwise_xor(h, ops.bitwise_right_shift(h, _const(13)))
    h = _mul32(h, 0xC2B2AE35)
    return ops.bitwise_xor(h, ops.bitwise_right_shift(h, _const(16)))


def _mul32(h, constant):
    """(h * constant) mod 2**32 without an int64 product above 2**49."""
    low = h * _const(constant & 0xFFFF)
    high = ops.bitwise_and(h * _const(constant >> 16), _const(0xFFFF))
    return ops.bitwise_and(low + ops.bitwise_left_shift(high, _const(16)), _const(_MASK32))


def keep_mask_reference(shape, seed: int, threshold: int) -> np.ndarray:
    """The keep mask (bool) of a tensor of `shape` in numpy: the definition the kernel and the graph follow."""
    def fmix(h):
        h = h ^ (h >> np.uint64(16))
        h = (h * np.uint64(0x85EBCA6B)) & np.uint64(_MASK32)
        h = h ^ (h >> np.uint64(13))
        h = (h * np.uint64(0xC2B2AE35)) & np.uint64(_MASK32)
        return h ^ (h >> np.uint64(16))

    seed = np.uint64(seed)
    low, high = seed & np.uint64(_MASK32), seed >> np.uint64(32)
    k1 = fmix(low ^ fmix((high + np.uint64(_GOLDEN)) & np.uint64(_MASK32)))
    k2 = fmix(k1 ^ np.uint64(_MIX))
    index = np.arange(int(np.prod(shape)), dtype=np.uint64)
    h = fmix((fmix(index ^ k1) + k2) & np.uint64(_MASK32))
    return ((h >> np.uint64(32 - _BITS)) < np.uint64(threshold)).reshape(shape)


def _keyed_dropout(x, seed, threshold: int):
    """x * keep_mask / keep with MindSpore ops (the kernels' fallback); seed: int64 scalar tensor."""
    mask32 = _const(_MASK32)
    low = ops.bitwise_and(seed, mask32)
    high = ops.bitwise_right_shift(seed, _const(32))
    k1 = _fmix32(ops.bitwise_xor(low, _fmix32(ops.bitwise_and(high + _const(_GOLDEN), mask32))))
    k2 = _fmix32(ops.bitwise_xor(k1, _const(_MIX)))
    index = ops.arange(0, x.size, dtype=ms.int64).reshape(x.shape)
    h = _fmix32(ops.bitwise_and(_fmix32(ops.bitwise_xor(index, k1)) + k2, mask32))
    keep = ops.bitwise_right_shift(h, _const(32 - _BITS)) < _const(threshold)
    return x * ops.stop_gradient(keep.astype(x.dtype) * (2.0 ** _BITS / threshold))


class Dropout(nn.Cell):
    """Dropout that is a no-op in eval mode and when p == 0 (nothing is compiled for it).

    Keyed (after `key_dropouts`): masks from DROPOUT_KEY and this cell's stream, the same on every rerun of
    a step. Otherwise MindSpore's own dropout."""

    def __init__(self, p=0.0):
        super().__init__()
        self.p = float(p)
        self.keyed = False
        self.stream = Tensor(0, ms.int64)
        self.shift = Tensor(2 ** 31, ms.int64)  # key * 2**31 + stream: both below 2**31
        self.threshold = Tensor(_threshold(self.p), ms.int64)
        self.fused = kernels.op("dropout") if self.p > 0 else None

    def construct(self, x):
        if self.training and self.p > 0:
            if not self.keyed:
                return ops.dropout(x, p=self.p, training=True)
            seed = DROPOUT_KEY * self.shift + self.stream
            if self.fused is not None and x.dtype == ms.float32:
                return self.fused(x, seed, self.threshold)
            return _keyed_dropout(x, seed, _threshold(self.p))
        return x
