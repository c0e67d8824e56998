"""Optimizer sharding (ZeRO stage 1) across data-parallel ranks.

Each data-parallel rank keeps an fp32 copy of 1/dp of every parameter (flattened and padded)
and Adam's moments for that slice only, updates its slice with the (already summed) gradient,
and the full parameters are put back together with an AllReduce of zero-padded slices, since
AllGather exists only on the world group on MindSpore's CPU backend.
"""
import numpy as np
from mindspore import Parameter, ParameterTuple, Tensor, nn, ops
from mindspore.communication import GlobalComm

from ..trainer.optim import AdamW


class ShardedAdamW(nn.Cell):
    """AdamW whose state is split over the data-parallel group; called with the full gradients."""

    def __init__(self, params, args, rank: int, parts: int, group):
        super().__init__(auto_prefix=False)
        self.parameters = ParameterTuple(params)
        self.parts = parts
        layout, shards, decayed = [], [], []
        for param in params:
            size = int(np.prod(param.shape))
            chunk = -(-size // parts)
            flat = np.zeros(chunk * parts, np.float32)
            flat[:size] = param.asnumpy().reshape(-1)
            layout.append((size, chunk, rank * chunk))
            shards.append(Parameter(Tensor(flat[rank * chunk:(rank + 1) * chunk]), name=f"shard.{param.name}"))
            decayed.append(args.weight_decay > 0 and len(param.shape) >= 2)
        self.layout = tuple(layout)
        self.shards = ParameterTuple(shards)
        self.inner = AdamW(self.shards, args.learning_rate, args.adam_beta1, args.adam_beta2, args.adam_epsilon,
                           args.weight_decay, [shard for shard, decays in zip(shards, decayed) if decays])
        self.reduce = ops.AllReduce(ops.ReduceOp.SUM, group or GlobalComm.WORLD_COMM_GROUP)

    @property
    def learning_rate(self):
        return self.inner.learning_rate

    def construct(self, grads, coefficient):
        """grads: the full (summed) gradients; coefficient: their clipping factor."""
        shard_grads = ()
        for grad, (size, chunk, start) in zip(grads, self.layout):
            flat = ops.pad(grad.reshape(-1), [0, chunk * self.parts - size])
            shard_grads = shard_grads + (flat[start:start + chunk],)
        updated = self.inner(shard_grads, coefficient)
        for param, shard, (size, chunk, start) in zip(self.parameters, self.shards, self.layout):
            padded = ops.pad(ops.depend(shard, updated), [start, chunk * self.parts - start - chunk])
            ops.assign(param, self.reduce(padded)[:size].reshape(param.shape))
        return True

    def state_sizes(self):
        """(elements of Adam state held here, elements a replicated optimizer would hold)."""
        held = sum(int(np.prod(m.shape)) for m in self.inner.moment1) * 2
        full = sum(size for size, _, _ in self.layout) * 2
        return held, full
