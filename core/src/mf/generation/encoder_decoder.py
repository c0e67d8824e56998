"""generate()'s steppers for an encoder-decoder (mf.models.EncoderDecoderLM): the sources are encoded
once, and the decoder continues decoder_start_token_id one token at a time.

Sources are padded on the right to a multiple of PREFILL_BUCKET and the self-attention cache holds a
multiple of CACHE_BUCKET slots, so one generation compiles two graphs (encode, and one decoder step)
that later generations of the same buckets reuse.
"""
import numpy as np
import mindspore as ms

from .runner import CACHE_BUCKET, PREFILL_BUCKET, decoder_for, round_up


class EncoderDecoderCacheStepper:
    """Encode once (cross-attention keys and values kept), then one cached decoder step per token."""

    def __init__(self, model, ids, mask, new_tokens, start_id, pad_id):
        batch, length = ids.shape
        source = round_up(length, PREFILL_BUCKET)
        self.ids = _right_pad(ids, source, pad_id)
        self.mask = ms.Tensor(_right_pad(mask, source, 0).astype(np.float32))
        self.runner = decoder_for(model, batch, round_up(1 + new_tokens, CACHE_BUCKET), source)
        self.sequences = np.full((batch, 1), start_id, dtype=np.int64)
        self.streamed = self.sequences[0]
        self.slot = 0
        self.cross_kv = None

    def start(self):
        self.cross_kv = self.runner.encode(ms.Tensor(self.ids.astype(np.int32)), self.mask)
        return self.runner.step(self.sequences[:, -1], self.mask, self.cross_kv, 0), self.sequences

    def decode(self, tokens):
        self.slot += 1
        return self.runner.step(tokens, self.mask, self.cross_kv, self.slot)

    def reorder(self, rows):
        # rows are beams of the same source (generate repeats each source per beam), so the
        # cross-attention keys and values stay as they are
        self.runner.reorder(rows)


class EncoderDecoderRecomputeStepper:
    """No cache (use_cache=False): the whole model on the sources and every decoder token so far."""

    def __init__(self, model, ids, mask, new_tokens, start_id, pad_id):
        self.model = model
        self.ids = ms.Tensor(ids.astype(np.int32))
        self.mask = ms.Tensor(mask.astype(np.float32))
        self.sequences = np.full((ids.shape[0], 1), start_id, dtype=np.int64)
        self.streamed = self.sequences[0]

    def _run(self):
        logits = self.model(self.ids, self.mask, ms.Tensor(self.sequences.astype(np.int32)))
        return logits.asnumpy()[:, -1, :]

    def start(self):
        return self._run(), self.sequences

    def decode(self, tokens):
        self.sequences = np.concatenate([self.sequences, tokens[:, None]], axis=1)
        return self._run()

    def reorder(self, rows):
        self.sequences = self.sequences[rows]


def _right_pad(array, width, value):
    if array.shape[1] == width:
        return array
    pad = np.full((array.shape[0], width - array.shape[1]), value, dtype=array.dtype)
    return np.concatenate([array, pad], axis=1)
