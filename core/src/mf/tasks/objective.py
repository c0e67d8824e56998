"""What the Trainer needs to train and evaluate a task other than next-token prediction.

An Objective reads the task's data format into Examples (fixed-shape arrays, one row per example,
named in the order the role's model takes them: input_ids, attention_mask, token_type_ids, then
the labels), says which config fields the data implies (num_labels, id2label), and turns the
model's outputs on the evaluation set into the task's metrics. The model computes its own loss
(the role contract: construct(..., labels) -> (loss, *outputs), a mean over labelled items).
"""
import copy
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Sequence

import numpy as np

from ..data.blocks import DatasetError, batch_rows
from ..nn.losses import IGNORE_INDEX

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


@dataclass
class Examples:
    """Rows of model inputs and labels (numpy arrays with equal first dimension), plus what the metrics
    need to map predictions back to the data (`info`: label names, words, contexts, ...).

    With group_by_length, each batch takes rows of similar length and its token arrays are cut to the
    smallest of a few fixed widths that holds them (a quarter, half or all of seq_length): far less
    padding, and still only one compiled graph per width. Batches carry "row_index", the rows they hold.
    """
    arrays: Dict[str, np.ndarray]
    source: str = ""
    info: Dict[str, Any] = field(default_factory=dict)
    group_by_length: bool = False

    def __post_init__(self):
        lengths = {name: len(a) for name, a in self.arrays.items()}
        if len(set(lengths.values())) > 1:
            raise DatasetError(f"{self.source or 'examples'}: arrays of different lengths {lengths}")
        if not lengths or not next(iter(lengths.values())):
            raise DatasetError(f"{self.source or 'the data'} holds no examples")

    def __len__(self):
        return len(next(iter(self.arrays.values())))

    @property
    def seq_length(self) -> int:
        """Tokens per row (0 for examples without tokens, such as images)."""
        return self.arrays["input_ids"].shape[1] if "input_ids" in self.arrays else 0

    def widths(self) -> List[int]:
        """The token widths batches are cut to."""
        if not self.group_by_length:
            return [self.seq_length]
        quarter, half = (-(-self.seq_length // part // 8) * 8 for part in (4, 2))  # rounded up to 8s
        return sorted({w for w in (quarter, half) if w < self.seq_length} | {self.seq_length})

    def _plan(self, batch_size, epoch, seed, drop_last):
        """(rows, width) of every batch of an epoch, in order."""
        if not self.group_by_length:
            return [(rows, self.seq_length) for rows in batch_rows(len(self), batch_size, epoch, seed, 0, drop_last)]
        # a row's length is its longest sequence (a sequence-to-sequence row has a source and a target)
        lengths = np.max([a.sum(1) for name, a in self.arrays.items()
                          if name.endswith("attention_mask") and a.shape[1] == self.seq_length], axis=0)
        widths = self.widths()
        bucket = np.searchsorted(widths, lengths)  # the smallest width that holds each row
        rng = np.random.default_rng([seed, epoch]) if seed is not None else None
        plan = []
        for index, width in enumerate(widths):
            rows = np.flatnonzero(bucket == index)
            if rng is not None:
                rows = rng.permutation(rows)
            count = len(rows) // batch_size if drop_last else -(-len(rows) // batch_size)
            plan.extend((rows[i * batch_size:(i + 1) * batch_size], width) for i in range(count))
        if rng is not None:
            plan = [plan[i] for i in rng.permutation(len(plan))]
        return plan

    def num_batches(self, batch_size: int, drop_last: bool = True) -> int:
        if not self.group_by_length:
            return len(self) // batch_size if drop_last else -(-len(self) // batch_size)
        return len(self._plan(batch_size, 0, None, drop_last))

    def batches(self, batch_size: int, epoch: int = 0, seed: Optional[int] = None, start: int = 0,
                drop_last: bool = True, shard: int = 0, num_shards: int = 1) -> Iterator[Dict[str, np.ndarray]]:
        if batch_size > len(self) and drop_last:
            raise DatasetError(f"batch size {batch_size} is larger than the dataset ({len(self)} examples from "
                               f"{self.source or 'the data'}); use a smaller batch size or more data")
        for rows, width in self._plan(batch_size, epoch, seed, drop_last)[start:]:
            rows = np.array_split(rows, num_shards)[shard] if num_shards > 1 else rows
            batch = {name: (array[rows, :width] if array.ndim > 1 and array.shape[1] == self.seq_length
                            else array[rows]) for name, array in self.arrays.items()}
            batch["row_index"] = rows
            yield batch


class Objective:
    """Base of the encoder tasks' objectives; a subclass sets `label_names` and implements `read`."""

    # the arrays that are labels, in the order the model takes them after the inputs
    label_names: Sequence[str] = ("labels",)
    # the model role the task trains (AutoModel role)
    role: str = ""
    # the data formats read() understands, for error messages
    formats: str = ""
    # outputs are per token ([rows, tokens, ...]): evaluation pads them back to seq_length
    token_outputs: bool = False
    # reduce_outputs keeps one row per example (False: it keeps something else, e.g. masked tokens)
    row_outputs: bool = True
    # what read() takes to turn the data into arrays: the model's tokenizer ("text"), image processor ("images")
    # or processor of both ("images_and_text")
    reads: str = "text"
    # evaluation pads the last batch to the batch size with unlabelled rows (one compiled graph); a task whose loss
    # mixes rows (contrastive) or has no labels to mark padding runs the last batch at its own size instead
    pad_last_batch: bool = True

    def read(self, source, tokenizer, seq_length: int, config=None, on_bad_line: str = "fail") -> Examples:
        raise NotImplementedError

    # the TrainingArguments of the Trainer this copy serves (None: the task's defaults)
    args = None

    def with_args(self, args) -> "Objective":
        """A copy of the objective for one Trainer's TrainingArguments (tasks with options of their own, such as
        translation's languages or image augmentation, read them with _option)."""
        out = copy.copy(self)
        out.args = args
        return out

    def _option(self, name, default=None):
        """A TrainingArguments field, or `default` when there are none or it is None."""
        value = getattr(self.args, name, None) if self.args is not None else None
        return default if value is None else value

    def generation_metrics(self, model, tokenizer, examples: Examples, batch_size: int) -> Dict[str, float]:
        """Metrics that need the model to generate (translation's BLEU); default: none."""
        return {}

    def config_updates(self, examples: Examples) -> Dict[str, Any]:
        """Config fields the data decides: a classifier's labels, when read() recorded label_names."""
        names = examples.info.get("label_names")
        if not names:
            return {}
        return {"num_labels": len(names), "id2label": {str(i): name for i, name in enumerate(names)}}

    def collate(self, batch: Dict[str, np.ndarray], rng: np.random.Generator, examples: Examples,
                training: bool = False):
        """A batch as the model sees it (masked LM masks tokens here; image classification augments training
        batches); default: as read."""
        return batch

    def reduce_outputs(self, outputs: List[np.ndarray], batch: Dict[str, np.ndarray]) -> List[np.ndarray]:
        """What metrics() keeps of one evaluation batch's outputs (default: all of them); a task with
        large outputs (a vocabulary's logits per token) keeps only what it scores."""
        return outputs

    def model_arrays(self, batch: Dict[str, np.ndarray]) -> List[np.ndarray]:
        """The model's positional arguments: inputs, then labels."""
        return [batch[name].astype(np.int32) for name in (*INPUT_NAMES, *self.label_names)]

    def loss_cell(self, model, topology=None):
        """The Cell the Trainer differentiates: (scale, *model_arrays) -> the model's loss times scale (its share
        of the step's labelled items; data-parallel ranks sum). topology: the run's parallel layout."""
        from ..trainer.step import ModelLoss

        return ModelLoss(model)

    def forward_cell(self, model):
        """The Cell evaluation runs: (*model_arrays) -> (loss, *outputs). It keeps the model as .model."""
        from ..trainer.step import ModelForward

        return ModelForward(model)

    def count_arrays(self, arrays: Sequence[np.ndarray]) -> int:
        """Labelled items among a micro-batch's model arrays (the first label array's)."""
        return int((arrays[len(arrays) - len(self.label_names)] != IGNORE_INDEX).sum())

    def count(self, batch: Dict[str, np.ndarray]) -> int:
        """Labelled items in a batch: the model's mean loss is over these."""
        return int((batch[self.label_names[0]] != IGNORE_INDEX).sum())

    def metrics(self, outputs: List[np.ndarray], examples: Examples) -> Dict[str, float]:
        """Metrics from the (reduced) outputs on every example, row-aligned with examples."""
        return {}


def encode_padded(tokenizer, text, pair, seq_length):
    """One (text, pair) row padded to seq_length: input_ids, attention_mask, token_type_ids."""
    if tokenizer.pad_token_id is None:
        raise DatasetError(f"{type(tokenizer).__name__} has no pad_token; encoder tasks pad to a fixed length")
    encoded = tokenizer(text, pair, truncation=True, max_length=seq_length, padding="max_length")
    types = encoded.get("token_type_ids") or [0] * seq_length
    return encoded["input_ids"], encoded["attention_mask"], types


def label_vocabulary(seen, config, fixed_first=None) -> List[str]:
    """Label names for the labels seen in the data. A model whose config names its labels keeps them (so
    a classifier trained further, or evaluated, keeps its ids) and data outside them is an error;
    otherwise integer labels keep their values as ids (LABEL_<i>) and names are sorted (fixed_first,
    e.g. "O", first)."""
    existing = getattr(config, "id2label", None) if config is not None else None
    names = [existing[i] for i in sorted(existing, key=int)] if existing else []
    named = bool(names) and not all(str(n).startswith("LABEL_") for n in names)
    if all(isinstance(label, (int, np.integer)) and not isinstance(label, bool) for label in seen):
        count = int(max(seen)) + 1
        if names and count <= len(names):
            return names
        if named:
            raise DatasetError(f"the data has label id {count - 1} but the model has {len(names)} labels "
                               f"({', '.join(names)}); fine-tune a new classifier from the base model")
        return [f"LABEL_{i}" for i in range(count)]
    values = {str(label) for label in seen}
    if named:
        unknown = sorted(values - set(names))
        if unknown:
            raise DatasetError(f"the data has labels {unknown[:5]} that the model's labels ({', '.join(names)}) "
                               f"lack; fine-tune a new classifier from the base model, or fix the data")
        return names
    ordered = sorted(values)
    if fixed_first in ordered:
        ordered.remove(fixed_first)
        ordered.insert(0, fixed_first)
    return ordered
