"""Compiled training and evaluation steps for causal language models.

The loss of one optimizer step is the mean next-token NLL over every labelled
token of all its micro-batches: each micro-batch contributes sum(NLL) / N where N
counts the step's labelled tokens (known on the host beforehand). Gradient
accumulation of k micro-batches of b rows is therefore the same computation as
one batch of k*b rows, and padding (label -100) never counts.
"""
import mindspore as ms
from mindspore import ParameterTuple, nn, ops

from .. import kernels
from ..nn.losses import IGNORE_INDEX, TokenCrossEntropy
from ..parallel.zero import ShardedAdamW
from .optim import AdamW


class NextTokenLoss(nn.Cell):
    """sum of next-token NLL over labelled tokens, divided by `scale` (the step's labelled tokens)."""

    def __init__(self, model):
        super().__init__(auto_prefix=False)
        self.model = model
        self.token_nll = TokenCrossEntropy()

    def construct(self, scale, input_ids, labels, attention_mask=None):
        logits = self.model(input_ids, attention_mask)
        vocab = logits.shape[-1]
        return self.token_nll(logits.reshape(-1, vocab), labels.reshape(-1)).sum() / scale


class ModelLoss(nn.Cell):
    """The model's own loss (its mean over this micro-batch's labelled items), times `scale`: this
    micro-batch's share of the step's labelled items, so the step's loss is their global mean too.
    inputs are the role's positional arguments, labels last (the role contract in mf.models.roles)."""

    def __init__(self, model):
        super().__init__(auto_prefix=False)
        self.model = model

    def construct(self, scale, *inputs):
        return self.model(*inputs)[0] * scale


class ModelForward(nn.Cell):
    """The model on its positional inputs, compiled for evaluation."""

    def __init__(self, model):
        super().__init__(auto_prefix=False)
        self.model = model

    def construct(self, *inputs):
        return self.model(*inputs)


class ApplyUpdate(nn.Cell):
    """Clip the gradients by their global norm, apply decoupled weight decay, step the optimizer (AdamW and
    ShardedAdamW do the first two themselves, given the clipping coefficient)."""

    def __init__(self, optimizer, decayed_params, weight_decay, max_grad_norm):
        super().__init__(auto_prefix=False)
        self.optimizer = optimizer
        self.decayed = ParameterTuple(decayed_params) if decayed_params else None
        self.weight_decay, self.max_grad_norm = weight_decay, max_grad_norm
        self.takes_coefficient = isinstance(optimizer, (AdamW, ShardedAdamW))

    def construct(self, grads, norm):
        if self.takes_coefficient:
            # AdamW scales, decays and steps in one pass, in place; every update waits for every gradient,
            # so no backward product reads a parameter that was already updated
            coefficient = ops.ones((), ms.float32)
            if self.max_grad_norm > 0:
                coefficient = ops.minimum(self.max_grad_norm / (norm + 1e-6), 1.0)
            return ops.depend(norm, self.optimizer(grads, ops.depend(coefficient, grads)))
        if self.max_grad_norm > 0:
            coefficient = ops.minimum(self.max_grad_norm / (norm + 1e-6), 1.0)
            grads = tuple(g * coefficient for g in grads)
        if self.decayed is not None:
            keep = 1.0 - self.optimizer.learning_rate * self.weight_decay
            for param in self.decayed:
                ops.assign(param, param * keep)
        self.optimizer(grads)
        return norm


class TrainStep(nn.Cell):
    """One micro-batch: loss and gradients; on the last micro-batch of a step, clip and update."""

    def __init__(self, loss_net, optimizer, decayed_params, max_grad_norm, weight_decay, accumulation_steps,
                 data_parallel_group=False, model_parallel_group=False, sharded=()):
        """data_parallel_group: False for one data-parallel rank, else the group (None: the world)
        over which gradients and the loss are summed. model_parallel_group and sharded (one flag per
        trainable parameter) make the gradient norm count tensor-parallel slices from every rank."""
        super().__init__(auto_prefix=False)
        self.loss_net = loss_net
        self.weights = optimizer.parameters
        self.grad_fn = ms.value_and_grad(loss_net, None, self.weights)
        self.update = ApplyUpdate(optimizer, decayed_params, weight_decay, max_grad_norm)
        self.accumulating = accumulation_steps > 1
        if self.accumulating:
            self.accumulated = self.weights.clone(prefix="accumulated_grads", init="zeros")
        self.sum_of_squares = kernels.op("sum_of_squares")
        from mindspore.communication import GlobalComm

        self.reduce = None
        if data_parallel_group is not False:
            self.reduce = ops.AllReduce(ops.ReduceOp.SUM, data_parallel_group or GlobalComm.WORLD_COMM_GROUP)
        self.model_reduce = None
        self.sharded = tuple(sharded) if sharded else tuple(False for _ in self.weights)
        if model_parallel_group is not False:
            self.model_reduce = ops.AllReduce(ops.ReduceOp.SUM, model_parallel_group or GlobalComm.WORLD_COMM_GROUP)

    def _squares(self, grad):
        if self.sum_of_squares is not None:
            return self.sum_of_squares(grad).reshape(())
        return ops.reduce_sum(grad * grad)

    def _global_norm(self, grads):
        replicated = ops.zeros((), ms.float32)
        sliced = ops.zeros((), ms.float32)
        for grad, sharded in zip(grads, self.sharded):
            if sharded:
                sliced = sliced + self._squares(grad)
            else:
                replicated = replicated + self._squares(grad)
        if self.model_reduce is not None:  # each model-parallel rank holds a different slice
            sliced = self.model_reduce(sliced)
        return ops.sqrt(replicated + sliced)

    def construct(self, scale, update, *inputs):
        """scale: the loss net's normaliser; update: False for a micro-batch whose gradients are only
        accumulated; inputs: the loss net's data arguments."""
        loss, grads = self.grad_fn(scale, *inputs)
        if self.reduce is not None:
            # each rank's loss is its rows' share of the global mean: summing gives the global gradient
            loss = self.reduce(loss)
            grads = tuple(self.reduce(g) for g in grads)
        if self.accumulating:
            if not update:
                for buffer, grad in zip(self.accumulated, grads):
                    ops.assign_add(buffer, grad)
                return loss, ops.zeros((), ms.float32)
            summed = ()
            for buffer, grad in zip(self.accumulated, grads):
                summed = summed + (buffer + grad,)
                ops.assign(buffer, ops.zeros_like(buffer))
            grads = summed
        norm = self._global_norm(grads)
        return loss, self.update(grads, norm)


class EvalStep(nn.Cell):
    """sum of next-token NLL and the number of labelled tokens of a batch."""

    def __init__(self, model):
        super().__init__(auto_prefix=False)
        self.model = model
        self.token_nll = TokenCrossEntropy()

    def construct(self, input_ids, labels, attention_mask=None):
        logits = self.model(input_ids, attention_mask)
        vocab = logits.shape[-1]
        flat = labels.reshape(-1)
        nll = self.token_nll(logits.reshape(-1, vocab), flat).sum()
        return nll, (flat != IGNORE_INDEX).astype(ms.float32).sum()
