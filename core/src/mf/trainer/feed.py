"""Feeding batches to the trainer from TokenBlocks or a mindspore.dataset object, resumably."""
import contextlib
from typing import Dict, Iterator, Optional

import numpy as np

from ..data import DatasetError, TokenBlocks, load_dataset
from ..nn.losses import IGNORE_INDEX


def is_mindspore_dataset(obj) -> bool:
    try:
        from mindspore.dataset import Dataset
    except ImportError:  # pragma: no cover
        return False
    return isinstance(obj, Dataset)


class BlockFeed:
    """Batches of a TokenBlocks, shuffled per epoch by data_seed."""

    def __init__(self, blocks: TokenBlocks, batch_size: int, shuffle: bool, seed: int, shard=0, num_shards=1):
        self.blocks, self.batch_size, self.seed = blocks, batch_size, seed if shuffle else None
        self.shard, self.num_shards = shard, num_shards
        self.num_batches = blocks.num_batches(batch_size)
        if self.num_batches == 0:
            raise DatasetError(f"batch size {batch_size} is larger than the dataset ({len(blocks)} rows from "
                               f"{blocks.source or 'the data'}); use a smaller batch size or more data")

    def epoch(self, epoch: int, start: int = 0) -> Iterator[Dict[str, np.ndarray]]:
        return self.blocks.batches(self.batch_size, epoch, self.seed, start, shard=self.shard,
                                   num_shards=self.num_shards)

    @property
    def seq_length(self) -> int:
        return self.blocks.seq_length


@contextlib.contextmanager
def _as_tree(dataset):
    """The tutorial batches one GeneratorDataset twice (train and eval); MindSpore refuses to use
    a pipeline whose nodes have two consumers, so while it is compiled each upstream node sees
    only the chain being used."""
    saved, stack = [], [dataset]
    while stack:
        node = stack.pop()
        for child in getattr(node, "children", []):
            if len(getattr(child, "parent", [])) > 1:
                saved.append((child, child.parent))
                child.parent = [node]
            stack.append(child)
    try:
        yield dataset
    finally:
        for child, parents in saved:
            child.parent = parents


def _iterate(dataset):
    """A numpy dict iterator over a mindspore dataset."""
    with _as_tree(dataset):
        return dataset.create_dict_iterator(num_epochs=1, output_numpy=True)


class MindSporeFeed:
    """Batches of a mindspore.dataset object (batched by the user, or here when its rows are 1-D)."""

    def __init__(self, dataset, batch_size: int, shard=0, num_shards=1):
        first = next(_iterate(dataset))
        if "input_ids" not in first:
            raise DatasetError(f"the dataset's columns are {sorted(first)}; it needs an 'input_ids' column")
        if first["input_ids"].ndim == 1:
            dataset = dataset.batch(batch_size, drop_remainder=True)
            first = next(_iterate(dataset))
        self.dataset = dataset
        self.shard, self.num_shards = shard, num_shards
        with _as_tree(dataset):
            self.num_batches = dataset.get_dataset_size()
        self._seq_length = first["input_ids"].shape[1] - 1
        if self.num_batches == 0:
            raise DatasetError(f"the dataset yields no batch of {batch_size} rows; use a smaller batch size")

    def epoch(self, epoch: int, start: int = 0):
        for index, batch in enumerate(_iterate(self.dataset)):
            if index < start:
                continue
            batch = {k: np.asarray(v) for k, v in batch.items() if k in ("input_ids", "attention_mask", "labels")}
            if self.num_shards > 1:
                batch = {k: np.array_split(v, self.num_shards)[self.shard] for k, v in batch.items()}
            yield batch

    @property
    def seq_length(self) -> int:
        return self._seq_length


def make_feed(source, tokenizer, seq_length: Optional[int], batch_size: int, shuffle: bool, seed: int,
              on_bad_line: str = "fail", shard=0, num_shards=1, **options):
    """A feed for a path, TokenBlocks or mindspore dataset (options: see mf.data.load_dataset)."""
    if is_mindspore_dataset(source):
        return MindSporeFeed(source, batch_size, shard, num_shards)
    if not isinstance(source, TokenBlocks):
        source = load_dataset(source, tokenizer=tokenizer, seq_length=seq_length, on_bad_line=on_bad_line,
                              **options)
    return BlockFeed(source, batch_size, shuffle, seed, shard, num_shards)


def model_inputs(batch: Dict[str, np.ndarray]):
    """(input_ids, labels, attention_mask or None) from rows of seq_length + 1 tokens."""
    ids = batch["input_ids"].astype(np.int32)
    if ids.ndim != 2 or ids.shape[1] < 2:
        raise DatasetError(f"a batch of input_ids must be [batch, seq_length + 1], got shape {list(ids.shape)}")
    inputs = ids[:, :-1]
    if "labels" in batch:
        labels = batch["labels"].astype(np.int32)[:, 1:]
    else:
        labels = ids[:, 1:].copy()
    mask = None
    if "attention_mask" in batch:
        full = batch["attention_mask"].astype(np.int32)
        labels = np.where(full[:, 1:] == 0, IGNORE_INDEX, labels)
        mask = full[:, :-1]
        if (mask == 1).all():
            mask = None  # nothing to hide: use the same compiled graph as unpadded data
    return inputs, labels, mask
