"""The compiled decoder: a causal LM with a static key/value cache.

Shapes are static so that graph mode compiles once per (batch, cache length):
prompts are left-padded to a multiple of PREFILL_BUCKET and the cache holds a
multiple of CACHE_BUCKET slots. One generation therefore compiles two graphs
(prefill and one-token decode), and later generations of the same bucket reuse
them.
"""
from collections import OrderedDict

import numpy as np
import mindspore as ms
from mindspore import Parameter, ParameterTuple, Tensor, nn, ops

PREFILL_BUCKET = 16
CACHE_BUCKET = 64
MAX_RUNNERS_PER_MODEL = 3


def round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


class CachedDecoder(nn.Cell):
    """model + its key/value cache Parameters; calls return next-token logits [B, vocab]."""

    def __init__(self, model, batch_size: int, cache_length: int):
        # auto_prefix=False keeps the model's parameter names unchanged
        super().__init__(auto_prefix=False)
        self.model = model
        self.batch_size = batch_size
        self.cache_length = cache_length
        shapes = model.kv_cache_shapes(batch_size, cache_length)
        self.cache = ParameterTuple([
            Parameter(Tensor(np.zeros(shape, np.float32)), name=f"kv_cache.{i}", requires_grad=False)
            for i, shape in enumerate(shapes)])
        self.compiled_shapes = set()

    @ms.jit
    def construct(self, input_ids, slot_mask, position_ids, cache_index):
        return self.model(input_ids, slot_mask, position_ids, None, self.cache, cache_index, True)

    def step(self, input_ids: np.ndarray, slot_mask: np.ndarray, position_ids: np.ndarray, cache_index: int):
        """Run one prefill or decode call; returns logits as numpy [B, vocab]."""
        self.compiled_shapes.add(input_ids.shape)
        logits = self(Tensor(input_ids.astype(np.int32)), Tensor(slot_mask.astype(np.float32)),
                      Tensor(position_ids.astype(np.int32)), Tensor(cache_index, ms.int32))
        return logits.asnumpy().reshape(input_ids.shape[0], -1)

    def reorder(self, rows: np.ndarray):
        """Reorder the cache's batch rows (beam search keeps the beams it selected)."""
        self._reorder(Tensor(rows.astype(np.int32)))

    @ms.jit
    def _reorder(self, rows):
        for cache in self.cache:
            batch_major = cache.reshape(self.batch_size, -1)
            ops.assign(cache, ops.gather(batch_major, rows, 0).reshape(cache.shape))
        return rows


def decoder_for(model, batch_size: int, cache_length: int) -> CachedDecoder:
    """The model's compiled decoder for this batch size and cache length (kept for reuse)."""
    runners = model.__dict__.setdefault("_mf_decoders", OrderedDict())
    key = (batch_size, cache_length)
    if key in runners:
        runners.move_to_end(key)
        return runners[key]
    while len(runners) >= MAX_RUNNERS_PER_MODEL:
        runners.popitem(last=False)
    runners[key] = CachedDecoder(model, batch_size, cache_length)
    return runners[key]
