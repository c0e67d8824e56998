"""TokenBlocks: packed token sequences in memory, batched deterministically (and resumably)."""
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from ..errors import MFError


class DatasetError(MFError, ValueError):
    """A dataset that cannot be read or used as asked."""


@dataclass
class TokenBlocks:
    """Rows of seq_length + 1 token ids: a row gives inputs row[:-1] and next-token labels row[1:].

    attention_mask (optional, same shape) marks real tokens; padding never counts in the loss.
    """
    input_ids: np.ndarray
    attention_mask: Optional[np.ndarray] = None
    source: str = ""
    # prompt/response rows: labels (same shape) mark what is learned, IGNORE_INDEX elsewhere; pairs are the
    # (prompt, response) texts, for evaluation that generates responses
    labels: Optional[np.ndarray] = None
    pairs: Optional[List[Tuple[str, str]]] = None

    def __post_init__(self):
        self.input_ids = np.asarray(self.input_ids, dtype=np.int32)
        if self.input_ids.ndim != 2 or self.input_ids.shape[1] < 2:
            raise DatasetError(f"{self.source or 'dataset'}: expected rows of at least 2 tokens, "
                               f"got an array of shape {list(self.input_ids.shape)}")

    def __len__(self):
        return self.input_ids.shape[0]

    @property
    def seq_length(self) -> int:
        return self.input_ids.shape[1] - 1

    def num_batches(self, batch_size: int, drop_last: bool = True) -> int:
        return len(self) // batch_size if drop_last else -(-len(self) // batch_size)

    def batches(self, batch_size: int, epoch: int = 0, seed: Optional[int] = None, start: int = 0,
                drop_last: bool = True, shard: int = 0, num_shards: int = 1) -> Iterator[Dict[str, np.ndarray]]:
        """Batches of one epoch, shuffled by (seed, epoch) when seed is given, from batch `start` on.

        With num_shards > 1 each global batch is split row-wise and this yields shard `shard`'s part
        (data parallel: every rank sees the same global order).
        """
        if batch_size > len(self):
            raise DatasetError(f"batch size {batch_size} is larger than the dataset ({len(self)} rows of "
                               f"{self.seq_length + 1} tokens from {self.source or 'the data'}); use a smaller "
                               f"batch size or more data")
        for rows in batch_rows(len(self), batch_size, epoch, seed, start, drop_last, shard, num_shards):
            batch = {"input_ids": self.input_ids[rows]}
            if self.attention_mask is not None:
                batch["attention_mask"] = self.attention_mask[rows]
            if self.labels is not None:
                batch["labels"] = self.labels[rows]
            yield batch


def batch_rows(count: int, batch_size: int, epoch: int = 0, seed: Optional[int] = None, start: int = 0,
               drop_last: bool = True, shard: int = 0, num_shards: int = 1) -> Iterator[np.ndarray]:
    """Row indices of each batch of one epoch: shuffled by (seed, epoch) when seed is given, from batch
    `start` on; with num_shards > 1, shard `shard`'s part of each global batch."""
    order = np.arange(count)
    if seed is not None:
        order = np.random.default_rng([seed, epoch]).permutation(count)
    batches = count // batch_size if drop_last else -(-count // batch_size)
    for index in range(start, batches):
        rows = order[index * batch_size:(index + 1) * batch_size]
        yield np.array_split(rows, num_shards)[shard] if num_shards > 1 else rows


# Documents longer than this (characters) are tokenized in pieces: a tokenizer keeps per-character
# alignments and per-token strings for its whole input, ~150 bytes per character (a 54 MB line took 8 GB)
PIECE_CHARS = 1 << 20


def document_pieces(text: str, size: int = PIECE_CHARS) -> Iterator[str]:
    """`text` in pieces of about `size` characters, each cut just after a newline (else after a space, else
    anywhere), so that a piece boundary falls where a tokenizer would end a token anyway. Short texts are
    one piece, and the pieces join back to the text."""
    start = 0
    while len(text) - start > size:
        end = start + size
        cut = text.rfind("\n", start + size // 2, end)
        if cut < 0:
            cut = text.rfind(" ", start + size // 2, end)
        end = cut + 1 if cut >= 0 else end
        yield text[start:end]
        start = end
    yield text[start:]


def pack_documents(documents, tokenizer, seq_length: int, source: str = ""):
    """Tokenize documents, end each with EOS, concatenate and cut into rows of seq_length + 1.

    Returns (TokenBlocks, summary) where summary counts documents, tokens, rows and dropped tokens. Tokens
    are kept as int32 arrays and long documents are tokenized in pieces (document_pieces), so memory stays
    near 4 bytes per token whatever the size of one document.
    """
    eos = tokenizer.eos_token_id
    if eos is None:
        raise DatasetError(f"{type(tokenizer).__name__} has no eos_token; packing needs one to separate documents")
    parts, documents_seen, buffered = [], 0, []
    for text in documents:
        for piece in document_pieces(text, PIECE_CHARS):
            ids = tokenizer(piece, add_special_tokens=False, return_attention_mask=False,
                            return_token_type_ids=False)["input_ids"]
            buffered.extend(ids)
            if len(buffered) >= 1 << 16:
                parts.append(np.asarray(buffered, dtype=np.int32))
                buffered = []
        buffered.append(eos)
        documents_seen += 1
    parts.append(np.asarray(buffered, dtype=np.int32))
    stream = np.concatenate(parts)
    width = seq_length + 1
    rows = len(stream) // width
    summary = {"documents": documents_seen, "tokens": len(stream), "samples": rows,
               "dropped_tokens": len(stream) - rows * width}
    if rows == 0:
        raise DatasetError(f"{source or 'the data'} has {len(stream)} tokens, fewer than one sample of "
                           f"{width}; use a smaller seq_length or more text")
    blocks = TokenBlocks(stream[:rows * width].reshape(rows, width), source=source)
    return blocks, summary
