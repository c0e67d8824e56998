"""Tensor-parallel layers built from AllReduce, the collective MindSpore's CPU backend has on any group.

Megatron's scheme: a column-parallel Linear holds a slice of the output features (its input
gradient is summed over the group), a row-parallel Linear a slice of the input features (its
output is summed over the group); a vocabulary-parallel embedding holds a slice of the rows.
Gathering a split tensor is an AllReduce of zero-padded slices, since AllGather exists only on
the world group on CPU.
"""
import numpy as np
import mindspore as ms
from mindspore import Parameter, nn, ops
from mindspore.communication import GlobalComm

from ..nn.layers import Linear, WeightMatMul


def _all_reduce(group):
    return ops.AllReduce(ops.ReduceOp.SUM, group or GlobalComm.WORLD_COMM_GROUP)


class CopyToGroup(nn.Cell):
    """Identity forward; the gradient is summed over the group (Megatron's f)."""

    def __init__(self, group):
        super().__init__()
        self.reduce = _all_reduce(group)

    def construct(self, x):
        return x

    def bprop(self, x, out, dout):
        return (self.reduce(dout),)


class ReduceFromGroup(nn.Cell):
    """Sum over the group forward; identity gradient (Megatron's g)."""

    def __init__(self, group):
        super().__init__()
        self.reduce = _all_reduce(group)

    def construct(self, x):
        return self.reduce(x)

    def bprop(self, x, out, dout):
        return (dout,)


class GatherFromGroup(nn.Cell):
    """Concatenate each rank's slice [start, end) of the last axis (total wide); the gradient is
    this rank's slice. Slices may differ in width (a vocabulary that does not divide evenly)."""

    def __init__(self, group, start: int, end: int, total: int):
        super().__init__()
        self.reduce = _all_reduce(group)
        self.start, self.end, self.total = start, end, total

    def construct(self, x):
        padding = [self.start, self.total - self.end] + [0, 0] * (x.ndim - 1)
        return self.reduce(ops.pad(x, padding))

    def bprop(self, x, out, dout):
        return (dout[..., self.start:self.end],)


class ColumnParallelLinear(Linear):
    """Holds output features [index * n / parts, (index + 1) * n / parts) of a Linear layer.

    rows: which rows of the full weight this rank keeps (a plan may interleave, e.g. q/k/v heads).
    """

    plain_product = False  # its input passes through CopyToGroup first

    def __init__(self, full: Linear, rows: np.ndarray, group):
        super().__init__(full.in_features, len(rows), bias=full.bias is not None)
        self.weight.set_data(ms.Tensor(full.weight.asnumpy()[rows]))
        if full.bias is not None:
            self.bias.set_data(ms.Tensor(full.bias.asnumpy()[rows]))
        self.copy = CopyToGroup(group)
        self.full_out_features = full.out_features
        self.rows = rows

    def construct(self, x):
        return super().construct(self.copy(x))


class RowParallelLinear(nn.Cell):
    """Holds input features `cols` of a Linear layer; partial outputs are summed over the group,
    then the (whole) bias is added once."""

    def __init__(self, full: Linear, cols: np.ndarray, group):
        super().__init__()
        self.in_features, self.out_features = len(cols), full.out_features
        self.full_in_features = full.in_features
        self.weight = Parameter(ms.Tensor(full.weight.asnumpy()[:, cols]), name="weight")
        self.bias = Parameter(ms.Tensor(full.bias.asnumpy()), name="bias") if full.bias is not None else None
        self.matmul = WeightMatMul()
        self.reduce = ReduceFromGroup(group)
        self.cols = cols

    def construct(self, x):
        shape = x.shape
        y = self.reduce(self.matmul(x.reshape(-1, self.in_features), self.weight))
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(shape[:-1] + (self.out_features,))


class VocabParallelEmbedding(nn.Cell):
    """Holds embedding rows [start, end); looks up its own ids, zeros for the others, sums over the group."""

    def __init__(self, full, start: int, end: int, group):
        super().__init__()
        self.weight = Parameter(ms.Tensor(full.weight.asnumpy()[start:end]), name="weight")
        self.start, self.end = start, end
        self.reduce = ReduceFromGroup(group)

    def construct(self, ids):
        local = ids - self.start
        inside = (ids >= self.start) & (ids < self.end)
        rows = ops.gather(self.weight, ops.where(inside, local, ops.zeros_like(local)), 0)
        return self.reduce(rows * inside.astype(rows.dtype).expand_dims(-1))
