"""Turning a full model into this rank's tensor-parallel part, following its family's sharding plan.

A plan (declared by the plugin, `sharding_plan=` in add_model_family) names layers by path suffix:
  column:  Linear layers split by output features      row:   split by input features
  vocab:   Embedding rows or LM-head rows split by vocabulary
  fused:   column layers whose rows are k stacked blocks (GPT-2's q/k/v), each block split alike
  divide:  per-cell attributes that count heads or widths, divided by the parallel size
  head_tensors: tensor attributes (of any cell, the model's own included) holding one value per attention
           head, such as BLOOM's ALiBi slopes: each rank keeps its heads' values
  divisible: config fields that must divide by model_parallel (validated before any work)
Every rank builds the same full model (same seed) and keeps its slices.
"""
from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np
import mindspore as ms

from ..nn.layers import Embedding, Linear
from ..pet.lora import _matches, _rename_parameters, _replace
from .distributed import ParallelError
from .layers import (ColumnParallelLinear, CopyToGroup, GatherFromGroup, RowParallelLinear,
                     VocabParallelEmbedding)


@dataclass
class ShardingPlan:
    column: List[str] = field(default_factory=list)
    row: List[str] = field(default_factory=list)
    vocab: List[str] = field(default_factory=list)
    fused: Dict[str, int] = field(default_factory=dict)
    divide: Dict[str, List[str]] = field(default_factory=dict)
    head_tensors: List[str] = field(default_factory=list)
    divisible: List[str] = field(default_factory=list)


def split_range(total: int, index: int, parts: int):
    """[start, end) of part `index` when `total` items are split as evenly as possible."""
    bounds = np.linspace(0, total, parts + 1).round().astype(int)
    return int(bounds[index]), int(bounds[index + 1])


def column_rows(out_features, index, parts, blocks=1):
    """Rows of a column-parallel weight kept by part `index` (blocks stacked blocks split alike)."""
    block = out_features // blocks
    start, end = split_range(block, index, parts)
    return np.concatenate([np.arange(b * block + start, b * block + end) for b in range(blocks)])


def check_divisible(config, plan: ShardingPlan, model_parallel: int):
    """Raise ParallelError naming the field that model_parallel does not divide."""
    for name in plan.divisible:
        value = getattr(config, name)
        if value % model_parallel:
            raise ParallelError(f"model_parallel={model_parallel} must divide {name} ({value}) of the model; "
                                f"choose a model_parallel that divides {value}")


def apply_tensor_parallel(model, plan: ShardingPlan, index: int, parts: int, group):
    """Replace the planned layers of model by this rank's slices, in place."""
    check_divisible(model.config, plan, parts)
    vocab_size = model.config.vocab_size
    start, end = split_range(vocab_size, index, parts)
    found = set()
    for name, cell in list(model.cells_and_names()):
        if not name:
            continue
        if isinstance(cell, Embedding) and _matches(name, plan.vocab):
            _replace(model, name, VocabParallelEmbedding(cell, start, end, group))
            found.add(name)
        elif isinstance(cell, Linear) and _matches(name, plan.vocab):  # an untied LM head
            _replace(model, name, ColumnParallelLinear(cell, np.arange(start, end), group))
            found.add(name)
        elif isinstance(cell, Linear) and _matches(name, plan.column):
            blocks = next((k for suffix, k in plan.fused.items() if _matches(name, [suffix])), 1)
            _replace(model, name, ColumnParallelLinear(cell, column_rows(cell.out_features, index, parts, blocks),
                                                       group))
            found.add(name)
        elif isinstance(cell, Linear) and _matches(name, plan.row):
            cols_start, cols_end = split_range(cell.in_features, index, parts)
            _replace(model, name, RowParallelLinear(cell, np.arange(cols_start, cols_end), group))
            found.add(name)
    if not found:
        raise ParallelError(f"the sharding plan of {type(model).__name__} matched no layer")
    for name, cell in model.cells_and_names():
        for suffix, attributes in plan.divide.items():
            if name and _matches(name, [suffix]):
                for attribute in attributes:
                    setattr(cell, attribute, getattr(cell, attribute) // parts)
    for _, cell in model.cells_and_names():
        for attribute in plan.head_tensors:
            values = getattr(cell, attribute, None)
            if values is not None:
                heads = values.shape[0]
                first, last = split_range(heads, index, parts)
                setattr(cell, attribute, ms.Tensor(values.asnumpy()[first:last]))
    # the LM head reads the (vocabulary-split) embedding or head weight directly: its input gradient
    # is summed over the group and its partial logits are gathered
    model.lm_input = CopyToGroup(group)
    model.lm_output = GatherFromGroup(group, start, end, vocab_size)
    _rename_parameters(model)
    model.structure_changed()
    model.__dict__["_mf_tensor_parallel"] = {"index": index, "parts": parts, "group": group}
    return model


def full_state_dict(model) -> Dict[str, np.ndarray]:
    """The whole model's tensors, with tensor-parallel slices gathered from the group (collective:
    every rank of the group must call it)."""
    return gather_full({name: param.asnumpy() for name, param in model.parameters_and_names()}, model)


def gather_full(tensors: Dict[str, np.ndarray], model) -> Dict[str, np.ndarray]:
    """Full-size versions of per-parameter tensors (weights or their gradients) of a
    tensor-parallel model, by parameter name (collective over the model-parallel group)."""
    from mindspore import ops
    from mindspore.communication import GlobalComm

    info = model.__dict__.get("_mf_tensor_parallel")
    state = {}
    layers = dict(model.cells_and_names())
    reduce = None
    if info:
        reduce = ops.AllReduce(ops.ReduceOp.SUM, info["group"] or GlobalComm.WORLD_COMM_GROUP)
    for name, value in tensors.items():
        owner, _, leaf = name.rpartition(".")
        cell = layers.get(owner)
        full = None
        if isinstance(cell, VocabParallelEmbedding):
            full = np.zeros((model.config.vocab_size,) + value.shape[1:], value.dtype)
            full[cell.start:cell.end] = value
        elif isinstance(cell, ColumnParallelLinear):
            shape = (cell.full_out_features,) + value.shape[1:]
            full = np.zeros(shape, value.dtype)
            full[cell.rows] = value
        elif isinstance(cell, RowParallelLinear) and leaf == "weight":
            full = np.zeros((value.shape[0], cell.full_in_features), value.dtype)
            full[:, cell.cols] = value
        if full is not None:
            value = reduce(ms.Tensor(full)).asnumpy()
        state[name] = value
    return state


def is_sharded(model, name: str) -> bool:
    """Whether parameter `name` of a tensor-parallel model holds only this rank's slice."""
    owner, _, leaf = name.rpartition(".")
    cell = dict(model.cells_and_names()).get(owner)
    return isinstance(cell, (VocabParallelEmbedding, ColumnParallelLinear)) or \
        (isinstance(cell, RowParallelLinear) and leaf == "weight")
