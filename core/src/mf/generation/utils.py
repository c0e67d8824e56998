"""generate() for every causal LM: greedy, sampling and beam search over a key/value cache.

A model that mixes in GenerationMixin implements
  construct(input_ids, attention_mask, position_ids, labels, kv_cache, cache_index, last_token_only)
  kv_cache_shapes(batch_size, cache_length)
and gets generate(). Token selection runs on the host in numpy; the model runs
compiled (see runner.py).
"""
import os
from typing import List, Optional

import numpy as np
import mindspore as ms

from .. import quantization
from .configuration import GENERATION_CONFIG_NAME, GenerationConfig, GenerationError
from .logits_process import (apply_repetition_penalty, log_softmax, sample, suppress_tokens, top_k_filter,
                             top_p_filter)
from .runner import CACHE_BUCKET, PREFILL_BUCKET, decoder_for, round_up


class GenerationMixin:
    """Adds generate() to a causal language model (and, through its steppers, to an encoder-decoder:
    mf.models.EncoderDecoderLM)."""

    # an encoder-decoder generates decoder tokens after decoder_start_token_id; its sources may be
    # padded on either side
    is_encoder_decoder = False

    @property
    def generation_config(self) -> GenerationConfig:
        config = self.__dict__.get("_mf_generation_config")
        if config is None:
            config = GenerationConfig.from_model_config(self.config)
            directory = getattr(self.config, "name_or_path", "")
            if directory and os.path.isfile(os.path.join(directory, GENERATION_CONFIG_NAME)):
                config = GenerationConfig.from_pretrained(directory)
            self.__dict__["_mf_generation_config"] = config
        return config

    @generation_config.setter
    def generation_config(self, value: GenerationConfig):
        self.__dict__["_mf_generation_config"] = value

    def max_positions(self) -> Optional[int]:
        """The longest sequence the model's position embeddings allow (None: unbounded)."""
        for name in ("seq_length", "max_position_embeddings", "max_sequence_length"):
            value = getattr(self.config, name, None)
            if value:
                return int(value)
        return None

    def generate(self, input_ids, attention_mask=None, generation_config: Optional[GenerationConfig] = None,
                 streamer=None, tokenizer=None, weight_dtype: Optional[str] = None,
                 activation_dtype: Optional[str] = None, **kwargs) -> np.ndarray:
        """Continue each prompt; returns [batch * num_return_sequences, prompt + new] token ids.

        input_ids: a list of ids, a list of lists, a numpy array or Tensor [B, T] (left-padded,
        with attention_mask marking real tokens); kwargs override generation_config fields.
        weight_dtype="int8" quantises the model's weights in place first (once; mf.quantization), and
        activation_dtype="int8" with it makes the products dynamic int8.
        """
        if weight_dtype is not None or activation_dtype is not None:
            quantization.quantize(self, weight_dtype or quantization.weight_dtype(self),
                                  activations=activation_dtype)
        config = (generation_config or self.generation_config).update(**kwargs)
        config.validate()
        ids, mask = _as_batch(input_ids, attention_mask, left_padded=not self.is_encoder_decoder)
        _check_token_ids(ids, getattr(self.config, "vocab_size", None))
        pad_id = _pad_id(config)
        # an encoder-decoder's max_length counts decoder tokens, the start token included (as transformers)
        new_tokens = self._new_token_budget(config, 1 if self.is_encoder_decoder else ids.shape[1])
        if config.stop_string_list and tokenizer is None:
            raise GenerationError("stop_strings needs the tokenizer: generate(..., tokenizer=tok)")
        if streamer is not None and (ids.shape[0] > 1 or config.num_beams > 1 or config.num_return_sequences > 1):
            raise GenerationError("streaming works with one prompt, one sequence and num_beams=1")
        was_training = self.training
        self.set_train(False)
        try:
            if config.num_beams > 1:
                return _beam_search(self, ids, mask, config, new_tokens, pad_id)
            if config.num_return_sequences > 1:
                ids = np.repeat(ids, config.num_return_sequences, axis=0)
                mask = np.repeat(mask, config.num_return_sequences, axis=0)
            return _greedy_or_sample(self, ids, mask, config, new_tokens, pad_id, streamer, tokenizer)
        finally:
            self.set_train(was_training)

    def generation_positions(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Position ids of left-padded prompts ids [B, T] (mask marks real tokens): 0, 1, ... over the real
        tokens. A model whose positions have another shape or rule (GLM: [B, 2, T]) overrides this and
        next_generation_positions; positions run along the last axis."""
        return _positions(mask)

    def next_generation_positions(self, last: np.ndarray) -> np.ndarray:
        """The position ids of the next generated token, from the last token's (positions[..., -1])."""
        return last + 1

    def _generation_stepper(self, ids, mask, config, new_tokens):
        """What runs the model for generate() (see the steppers below)."""
        cls = _CacheStepper if config.use_cache else _RecomputeStepper
        return cls(self, ids, mask, new_tokens)

    def _new_token_budget(self, config: GenerationConfig, prompt_length: int) -> int:
        if config.max_new_tokens is not None:
            new_tokens = config.max_new_tokens
        else:
            new_tokens = config.max_length - prompt_length
            if new_tokens < 1:
                raise GenerationError(
                    f"max_length={config.max_length} leaves no room for new tokens after a {prompt_length}-token "
                    f"prompt; raise max_length or set max_new_tokens")
        limit = self.max_positions()
        if limit is not None and prompt_length + new_tokens > limit:
            raise GenerationError(
                f"a {prompt_length}-token prompt plus {new_tokens} new tokens exceeds the model's context of "
                f"{limit} tokens; shorten the prompt (or let the pipeline truncate it with truncation=True) "
                f"or generate fewer tokens")
        return new_tokens


# ---- inputs -------------------------------------------------------------------------------
def _as_batch(input_ids, attention_mask, left_padded=True):
    if hasattr(input_ids, "asnumpy"):
        input_ids = input_ids.asnumpy()
    if isinstance(input_ids, (list, tuple)) and input_ids and isinstance(input_ids[0], (list, tuple, np.ndarray)):
        lengths = {len(row) for row in input_ids}
        if len(lengths) > 1:
            raise GenerationError("prompts of different lengths must be left-padded into one array with an "
                                  "attention_mask (the tokenizer does this with padding=True, padding_side='left')")
    ids = np.asarray(input_ids, dtype=np.int64)
    if ids.ndim == 1:
        ids = ids[None, :]
    if ids.ndim != 2:
        raise GenerationError(f"input_ids must be [batch, length], got shape {list(ids.shape)}")
    if ids.shape[1] == 0:
        raise GenerationError("the prompt is empty: give at least one token (a BOS token for unconditional text)")
    if attention_mask is None:
        mask = np.ones_like(ids)
    else:
        mask = np.asarray(attention_mask.asnumpy() if hasattr(attention_mask, "asnumpy") else attention_mask,
                          dtype=np.int64).reshape(ids.shape)
    if (mask.sum(axis=1) == 0).any():
        raise GenerationError("a prompt has no real tokens (its attention_mask is all zero)")
    if left_padded and (mask[:, -1] == 0).any():
        raise GenerationError("prompts must be left-padded (the last position of every row must be a real token); "
                              "tokenize with padding_side='left'")
    return ids, mask


def _check_token_ids(ids: np.ndarray, vocab_size):
    """Refuse ids outside the vocabulary before the model runs: MindSpore's embedding lookup fails on them with a
    Gather error, and a graph that failed that way breaks every later call on the same model."""
    if vocab_size is None:
        return
    bad = np.argwhere((ids < 0) | (ids >= vocab_size))
    if len(bad):
        row, column = (int(i) for i in bad[0])
        raise GenerationError(
            f"input_ids[{row}][{column}] is {int(ids[row, column])}, outside the model's vocabulary (0 to "
            f"{vocab_size - 1}); {len(bad)} such id(s) in all. Tokenize with this model's tokenizer, and pad with an id "
            f"inside the vocabulary")


def _pad_id(config: GenerationConfig) -> int:
    if config.pad_token_id is not None:
        return int(config.pad_token_id)
    return config.eos_token_ids[0] if config.eos_token_ids else 0


def _positions(mask: np.ndarray) -> np.ndarray:
    """Position ids that count only real tokens (left padding does not shift positions)."""
    positions = np.cumsum(mask, axis=1) - 1
    return np.where(mask == 0, 1, positions)


# ---- steppers: the model with or without a cache ---------------------------------------
# A stepper runs the model for generate(): start() gives the first next-token logits and the sequences
# that generation extends (the prompts for a causal LM, the decoder start tokens for an encoder-decoder),
# decode(tokens) appends one token per row and gives the next logits, reorder(rows) keeps the beams that
# beam search selected. `streamed` is what a streamer is shown first.
class _CacheStepper:
    """Prefill once into a static cache, then one token per call."""

    def __init__(self, model, ids, mask, new_tokens):
        batch, length = ids.shape
        padded = round_up(length, PREFILL_BUCKET)
        self.prompt, self.prompt_slots = ids, padded
        self.decoder = decoder_for(model, batch, round_up(padded + new_tokens, CACHE_BUCKET))
        self.ids = _left_pad(ids, padded, 0)
        self.mask = _left_pad(mask, padded, 0)
        self.slot_mask = np.ones((batch, self.decoder.cache_length), np.float32)
        self.slot_mask[:, :padded] = self.mask
        self.next_slot = padded
        self.model = model
        self.positions = model.generation_positions(ids, mask)
        self.next_positions = self.positions[..., -1]
        self.streamed = ids[0][mask[0] == 1]

    def start(self):
        logits = self.decoder.step(self.ids, self.slot_mask, _left_pad(self.positions, self.prompt_slots, 1), 0)
        return logits, self.prompt

    def decode(self, tokens):
        self.next_positions = self.model.next_generation_positions(self.next_positions)
        logits = self.decoder.step(tokens[:, None], self.slot_mask, self.next_positions[..., None], self.next_slot)
        self.next_slot += 1
        return logits

    def reorder(self, rows):
        self.decoder.reorder(rows)
        self.slot_mask = self.slot_mask[rows]
        self.next_positions = self.next_positions[rows]


class _RecomputeStepper:
    """No cache: run the whole sequence again for every new token (use_cache=False)."""

    def __init__(self, model, ids, mask, new_tokens):
        self.model, self.ids, self.mask = model, ids, mask
        self.positions = model.generation_positions(ids, mask)
        self.streamed = ids[0][mask[0] == 1]

    def _run(self):
        logits = self.model(ms.Tensor(self.ids.astype(np.int32)), ms.Tensor(self.mask.astype(np.float32)),
                            ms.Tensor(self.positions.astype(np.int32)))
        return logits.asnumpy()[:, -1, :]

    def start(self):
        return self._run(), self.ids

    def decode(self, tokens):
        self.ids = np.concatenate([self.ids, tokens[:, None]], axis=1)
        self.mask = np.concatenate([self.mask, np.ones_like(tokens)[:, None]], axis=1)
        following = self.model.next_generation_positions(self.positions[..., -1])
        self.positions = np.concatenate([self.positions, following[..., None]], axis=-1)
        return self._run()

    def reorder(self, rows):
        self.ids, self.mask, self.positions = self.ids[rows], self.mask[rows], self.positions[rows]


def _left_pad(array, width, value):
    """array [B, ..., T] padded on the left of its last axis to width."""
    if array.shape[-1] == width:
        return array
    pad = np.full(array.shape[:-1] + (width - array.shape[-1],), value, dtype=array.dtype)
    return np.concatenate([pad, array], axis=-1)


# ---- greedy and sampling ------------------------------------------------------------------
def _process(logits, sequences, config, generated):
    logits = apply_repetition_penalty(logits, sequences, config.repetition_penalty)
    if generated < config.min_new_tokens:
        logits = suppress_tokens(logits, config.eos_token_ids)
    return logits


def _greedy_or_sample(model, ids, mask, config, new_tokens, pad_id, streamer, tokenizer):
    rng = np.random.default_rng(config.seed)
    eos = np.array(config.eos_token_ids, dtype=np.int64)
    stepper = model._generation_stepper(ids, mask, config, new_tokens)
    logits, sequences = stepper.start()
    prompt_length = sequences.shape[1]
    done = np.zeros(ids.shape[0], dtype=bool)
    if streamer is not None:
        streamer.put(stepper.streamed)
    for generated in range(new_tokens):
        scores = _process(logits.astype(np.float32), sequences, config, generated)
        if config.do_sample:
            scores = top_p_filter(top_k_filter(scores / config.temperature, config.top_k), config.top_p)
            tokens = sample(scores, rng)
        else:
            tokens = np.argmax(scores, axis=-1)
        tokens = np.where(done, pad_id, tokens).astype(np.int64)
        sequences = np.concatenate([sequences, tokens[:, None]], axis=1)
        if streamer is not None:
            streamer.put(tokens)
        if eos.size:
            done |= np.isin(tokens, eos)
        if config.stop_string_list:
            done |= _hit_stop_strings(sequences[:, prompt_length:], config.stop_string_list, tokenizer)
        if done.all() or generated == new_tokens - 1:
            break
        logits = stepper.decode(tokens)
    if streamer is not None:
        streamer.end()
    return sequences


def _hit_stop_strings(generated: np.ndarray, stop_strings: List[str], tokenizer) -> np.ndarray:
    longest = max(len(s) for s in stop_strings)
    hits = np.zeros(generated.shape[0], dtype=bool)
    for row, tokens in enumerate(generated):
        # a stop string of n characters spans at most n tokens
        tail = tokenizer.decode(tokens[-(longest + 1):].tolist())
        hits[row] = any(tail.endswith(s) for s in stop_strings)
    return hits


# ---- beam search --------------------------------------------------------------------------
class _Hypotheses:
    """The best finished beams of one prompt, scored as transformers does."""

    def __init__(self, num_beams, length_penalty, early_stopping, max_new_tokens):
        self.num_beams, self.length_penalty = num_beams, length_penalty
        self.early_stopping, self.max_new_tokens = early_stopping, max_new_tokens
        self.beams = []  # (normalised score, tokens)

    def add(self, tokens, sum_logprobs, generated_length):
        score = sum_logprobs / (max(generated_length, 1) ** self.length_penalty)
        if len(self.beams) < self.num_beams or score > self.worst():
            self.beams.append((score, tokens))
            if len(self.beams) > self.num_beams:
                self.beams.remove(min(self.beams, key=lambda b: b[0]))

    def worst(self):
        return min(b[0] for b in self.beams) if self.beams else -1e9

    def is_done(self, best_sum_logprobs, generated_length):
        if len(self.beams) < self.num_beams:
            return False
        if self.early_stopping is True:
            return True
        if self.early_stopping == "never" and self.length_penalty > 0:
            best = best_sum_logprobs / (self.max_new_tokens ** self.length_penalty)
        else:
            best = best_sum_logprobs / (max(generated_length, 1) ** self.length_penalty)
        return self.worst() >= best


def _beam_search(model, ids, mask, config, new_tokens, pad_id):
    beams = config.num_beams
    batch = ids.shape[0]
    eos = set(config.eos_token_ids)
    ids = np.repeat(ids, beams, axis=0)
    mask = np.repeat(mask, beams, axis=0)
    stepper = model._generation_stepper(ids, mask, config, new_tokens)
    logits, sequences = stepper.start()
    prompt_length = sequences.shape[1]
    beam_scores = np.zeros((batch, beams), np.float64)
    beam_scores[:, 1:] = -1e9  # at the first step only the first beam is real
    beam_scores = beam_scores.reshape(-1)
    hypotheses = [_Hypotheses(beams, config.length_penalty, config.early_stopping, new_tokens) for _ in range(batch)]
    done = np.zeros(batch, dtype=bool)
    for generated in range(new_tokens):
        logprobs = _process(log_softmax(logits.astype(np.float64)), sequences, config, generated)
        scores = (logprobs + beam_scores[:, None]).reshape(batch, -1)
        vocab = logprobs.shape[-1]
        rows, tokens, new_scores = [], [], []
        for b in range(batch):
            if done[b]:  # keep a finished prompt's beams, feeding padding
                rows += [b * beams + k for k in range(beams)]
                tokens += [pad_id] * beams
                new_scores += [0.0] * beams
                continue
            candidates = np.argsort(-scores[b], kind="stable")[: 2 * beams]
            kept = 0
            for rank, flat in enumerate(candidates):
                beam, token = divmod(int(flat), vocab)
                row = b * beams + beam
                if token in eos:
                    if rank < beams:
                        hypotheses[b].add(np.append(sequences[row], token), scores[b, flat], generated + 1)
                    continue
                rows.append(row)
                tokens.append(token)
                new_scores.append(scores[b, flat])
                kept += 1
                if kept == beams:
                    break
            done[b] = hypotheses[b].is_done(scores[b, candidates[0]], generated + 1)
        rows = np.array(rows)
        tokens = np.array(tokens, dtype=np.int64)
        beam_scores = np.array(new_scores)
        sequences = np.concatenate([sequences[rows], tokens[:, None]], axis=1)
        if done.all() or generated == new_tokens - 1:
            break
        stepper.reorder(rows)
        logits = stepper.decode(tokens)
    for b in range(batch):
        if not done[b]:
            for k in range(beams):
                row = b * beams + k
                hypotheses[b].add(sequences[row], beam_scores[row], sequences.shape[1] - prompt_length)
    best = []
    for b in range(batch):
        ranked = sorted(hypotheses[b].beams, key=lambda item: item[0], reverse=True)
        best += [tokens for _, tokens in ranked[: config.num_return_sequences]]
    width = max(len(t) for t in best)
    return np.stack([np.concatenate([t, np.full(width - len(t), pad_id)]) for t in best]).astype(np.int64)
