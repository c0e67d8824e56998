"""Batching text (or text pairs) for encoder models: [CLS] A [SEP] (B [SEP]), right-padded."""
import numpy as np
from mindspore import Tensor

from ..errors import PipelineError


def encode_batch(tokenizer, items, max_length=None, model=None):
    """items: texts, (text, pair) tuples or {"text", "text_pair"} dicts -> (input_ids, attention_mask,
    token_type_ids) Tensors, and the per-row token ids (unpadded). Rows are truncated to max_length, else to
    the tokenizer's model_max_length, and never past the model's positions."""
    limit = max_length or getattr(tokenizer, "model_max_length", None) or 512
    positions = _model_positions(model)
    if positions is not None:
        if max_length is not None and max_length > positions:
            raise PipelineError(f"max_length={max_length} is longer than the model's {positions} positions")
        limit = min(limit, positions)
    rows = []
    for item in items:
        if isinstance(item, dict):  # transformers' {"text": ..., "text_pair": ...}
            item = (item.get("text"), item.get("text_pair"))
        text, pair = (item if isinstance(item, (tuple, list)) and len(item) == 2 else (item, None))
        if not isinstance(text, str) or (pair is not None and not isinstance(pair, str)):
            raise PipelineError(f"expected text or a (text, text) pair, got {item!r}")
        encoded = tokenizer(text, pair, truncation=True, max_length=limit)
        rows.append((encoded["input_ids"], encoded.get("token_type_ids") or [0] * len(encoded["input_ids"])))
    width = max(len(ids) for ids, _ in rows)
    pad = tokenizer.pad_token_id or 0
    input_ids = np.array([ids + [pad] * (width - len(ids)) for ids, _ in rows], np.int32)
    mask = np.array([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in rows], np.int32)
    types = np.array([t + [0] * (width - len(t)) for _, t in rows], np.int32)
    return (Tensor(input_ids), Tensor(mask), Tensor(types)), [ids for ids, _ in rows]


def _model_positions(model):
    if model is None:
        return None
    if hasattr(model, "max_positions"):
        return model.max_positions()
    config = getattr(model, "config", None)  # an encoder's learned positions (MindFormers' name first)
    return getattr(config, "seq_length", None) or getattr(config, "max_position_embeddings", None)


def softmax(logits):
    logits = np.asarray(logits, np.float64)
    exp = np.exp(logits - logits.max(-1, keepdims=True))
    return exp / exp.sum(-1, keepdims=True)
