"""Prompt/response pairs (instruction tuning, ChatGLM's ADGEN, Alpaca) as causal-LM rows.

A JSONL file whose records hold a prompt and a response is read into rows of seq_length + 1 tokens:
the prompt as the model sees it when generating (the tokenizer's own layout: `<s> prompt` for LLaMA,
`prompt [gMASK] <sop>` for GLM), then the response and EOS; the labels mask the prompt (and the padding)
so the loss is over the response only. The pairs' texts are kept for evaluation that generates.
"""
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..nn.losses import IGNORE_INDEX
from .blocks import DatasetError, TokenBlocks

# (prompt field, response field) of the common layouts; Alpaca's "input", when not empty, follows the
# instruction on a new line
KNOWN_COLUMNS = (("prompt", "response"), ("content", "summary"), ("instruction", "output"), ("query", "response"),
                 ("question", "answer"))


def find_columns(record: dict, columns: Optional[Tuple[str, str]] = None) -> Optional[Tuple[str, str]]:
    """The (prompt, response) fields of a record: `columns` if given, else the first known pair it has."""
    if columns:
        return tuple(columns) if all(name in record for name in columns) else None
    return next((pair for pair in KNOWN_COLUMNS if all(name in record for name in pair)), None)


def record_pair(record: dict, columns: Tuple[str, str]) -> Tuple[str, str]:
    prompt_field, response_field = columns
    prompt, response = record.get(prompt_field), record.get(response_field)
    if not isinstance(prompt, str) or not isinstance(response, str):
        raise TypeError(f"'{prompt_field}' and '{response_field}' must be text, got {type(prompt).__name__} and "
                        f"{type(response).__name__}")
    extra = record.get("input") if prompt_field == "instruction" else None
    if isinstance(extra, str) and extra.strip():
        prompt = f"{prompt}\n{extra}"
    return prompt, response


def prompt_ids(tokenizer, prompt: str, limit: Optional[int] = None) -> List[int]:
    """The prompt as the model is given it when generating; a long prompt keeps its end (where the question
    is) within limit tokens."""
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    wrapped = tokenizer.build_inputs_with_special_tokens(ids)
    if limit is not None and len(wrapped) > limit:
        ids = ids[len(wrapped) - limit:]
        wrapped = tokenizer.build_inputs_with_special_tokens(ids)
    return wrapped


def prompt_response_rows(pairs: Sequence[Tuple[str, str]], tokenizer, seq_length: int, source: str = "",
                         max_response_length: Optional[int] = None) -> TokenBlocks:
    """TokenBlocks (rows of seq_length + 1, right-padded) with labels only on each response and its EOS.
    A response keeps up to max_response_length tokens (default: half the row); its prompt gets the rest."""
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    if eos is None:
        raise DatasetError(f"{type(tokenizer).__name__} has no eos_token; a response must end with one")
    pad = eos if pad is None else pad
    width = seq_length + 1
    response_budget = min(max_response_length or width // 2, width - 2)
    ids = np.full((len(pairs), width), pad, np.int32)
    labels = np.full((len(pairs), width), IGNORE_INDEX, np.int32)
    mask = np.zeros((len(pairs), width), np.int32)
    for row, (prompt, response) in enumerate(pairs):
        answer = tokenizer(response, add_special_tokens=False)["input_ids"][:response_budget - 1] + [eos]
        question = prompt_ids(tokenizer, prompt, width - len(answer))
        if len(question) + len(answer) > width:
            raise DatasetError(f"{source}: pair {row + 1} does not fit {width} tokens even with its prompt cut; "
                               f"raise seq_length")
        tokens = question + answer
        ids[row, :len(tokens)] = tokens
        labels[row, len(question):len(tokens)] = answer
        mask[row, :len(tokens)] = 1
    return TokenBlocks(ids, mask, source=source, labels=labels, pairs=list(pairs))
