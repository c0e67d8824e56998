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

from ..compile_cache import graph_mode

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

    @property
    def compile_phase(self):
        return self._compile_phase

    @compile_phase.setter
    def compile_phase(self, value):
        # MindSpore sets the phase on every sub-cell at every call, compiled or not: 761 cells of SmolLM2 take
        # 1.7 ms of a ~11 ms decode step. They hold it already when it is the one this cell was last given
        # (a new input shape gives a new phase, and then every sub-cell is set as before).
        if value != self._compile_phase:
            nn.Cell.compile_phase.fset(self, value)

    @ms.jit
    def construct(self, input_ids, slot_mask, position_ids, cache_index):
        return self.model(input_ids, slot_mask, position_ids, None, self.cache, cache_index, True)

    def step(self, input_ids: np.ndarray, slot_mask: np.ndarray, position_ids: np.ndarray, cache_index: int):
        """Run one prefill or decode call; returns logits as numpy [B, vocab]."""
        self.compiled_shapes.add(input_ids.shape)
        with graph_mode():  # whatever the caller's mode: the graph runs without PyNative's executor around it
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


class CachedEncoderDecoder(CachedDecoder):
    """An encoder-decoder (mf.models.EncoderDecoderLM) + its decoder's self-attention cache.

    encode() runs the encoder once per batch of sources and returns every decoder layer's
    cross-attention keys and values; each step then feeds them back, so they are computed once per
    prompt. Beam search reorders only the self-attention cache: the beams of a source share its
    cross-attention keys and values."""

    def __init__(self, model, batch_size: int, source_length: int, cache_length: int):
        super().__init__(model, batch_size, cache_length)
        self.source_length = source_length

    @ms.jit
    def encode(self, input_ids, attention_mask):
        return self.model.cross_attention_kv(self.model.encode(input_ids, attention_mask))

    @ms.jit
    def construct(self, tokens, attention_mask, cache_index, cross_kv):
        return self.model.decode_step(tokens, attention_mask, cross_kv, self.cache, cache_index, self.cache_length)

    def step(self, tokens: np.ndarray, attention_mask, cross_kv, cache_index: int):
        """One decoder token per row at slot cache_index; returns logits as numpy [B, vocab]."""
        # mutable: a tuple argument is otherwise a compile-time constant, and each source's keys would
        # compile the step again
        logits = self(Tensor(tokens.astype(np.int32).reshape(-1, 1)), attention_mask, Tensor(cache_index, ms.int32),
                      ms.mutable(tuple(cross_kv)))
        return logits.asnumpy().reshape(tokens.shape[0], -1)


def decoder_for(model, batch_size: int, cache_length: int, source_length: int = 0) -> CachedDecoder:
    """The model's compiled decoder for this batch size and cache length (and source length, for an
    encoder-decoder), kept for reuse."""
    from .. import compile_cache

    compile_cache.enable_from_environment()
    runners = model.__dict__.setdefault("_mf_decoders", OrderedDict())
    key = (batch_size, cache_length, source_length) if source_length else (batch_size, cache_length)
    if key in runners:
        runners.move_to_end(key)
        return runners[key]
    while len(runners) >= MAX_RUNNERS_PER_MODEL:
        runners.popitem(last=False)
    runners[key] = CachedEncoderDecoder(model, batch_size, source_length, cache_length) if source_length else \
        CachedDecoder(model, batch_size, cache_length)
    return runners[key]
