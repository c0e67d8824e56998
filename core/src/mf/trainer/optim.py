"""Optimizers and learning-rate schedules.

AdamW is MindSpore's bias-corrected Adam after a decoupled weight decay applied to
matrices only, as GPT-style training does, with the gradient-clipping coefficient
applied inside the update: one fused kernel per parameter on CPU (mf.kernels),
MindSpore's Adam primitive elsewhere. Schedules are computed on the host and written
into the optimizer's learning-rate Parameter before each step.
"""
import math

import numpy as np
import mindspore as ms
from mindspore import Parameter, ParameterTuple, Tensor, nn, ops

from .. import kernels

from .arguments import TrainingArguments


def learning_rate_at(step: int, args: TrainingArguments, total_steps: int) -> float:
    """The learning rate for optimizer step `step` (0-based), as transformers' schedules give it."""
    warmup = args.warmup_steps or int(math.ceil(args.warmup_ratio * total_steps))
    if args.lr_scheduler_type == "constant":
        return args.learning_rate
    if step < warmup:
        return args.learning_rate * step / max(1, warmup)
    if args.lr_scheduler_type == "constant_with_warmup":
        return args.learning_rate
    progress = (step - warmup) / max(1, total_steps - warmup)
    if args.lr_scheduler_type == "linear":
        return args.learning_rate * max(0.0, 1.0 - progress)
    return args.learning_rate * max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))  # cosine


class AdamW(nn.Cell):
    """AdamW, called as optimizer(grads, coefficient) with the gradients' clipping coefficient (1.0: none);
    returns a token that depends on every update.

    Parameters in `decayed` shrink by 1 - lr * weight_decay, then take MindSpore's Adam step (eps is added to
    sqrt(v) before the bias correction; PyTorch adds it after, so this eps is PyTorch's times sqrt(1 - beta2^t):
    the two differ only where sqrt(v) is near eps). On CPU each parameter is one AdamWUpdate kernel that rewrites
    param, m and v in place: clipping, decay and Adam as separate ops kept a temporary copy of every gradient
    and every decayed parameter alive at once (~1 GB of GPT-2 small's training peak). Elsewhere MindSpore's
    Adam primitive runs after those ops. The state has nn.Adam's names (moment1.*, moment2.*, beta1_power,
    beta2_power, learning_rate, global_step), so checkpoints written before this class load into it."""

    def __init__(self, params, learning_rate, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decayed=()):
        super().__init__(auto_prefix=False)
        self.parameters = ParameterTuple(params)
        self.moment1 = self.parameters.clone(prefix="moment1", init="zeros")
        self.moment2 = self.parameters.clone(prefix="moment2", init="zeros")
        self.learning_rate = Parameter(Tensor(learning_rate, ms.float32), name="learning_rate")
        self.beta1_power = Parameter(Tensor(1.0, ms.float32), name="beta1_power")
        self.beta2_power = Parameter(Tensor(1.0, ms.float32), name="beta2_power")
        self.global_step = Parameter(Tensor([0], ms.int32), name="global_step")
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.weight_decay = float(weight_decay)
        decayed_ids = {id(p) for p in decayed}
        self.decays = tuple(id(p) in decayed_ids and self.weight_decay > 0 for p in params)
        self.fused = kernels.op("adamw_update")
        self.adam = ops.Adam()
        self.hyper = Tensor([beta1, beta2, eps], ms.float32)

    def construct(self, grads, coefficient):
        ops.assign_add(self.global_step, ops.ones((1,), ms.int32))
        beta1_power = self.beta1_power * self.beta1
        beta2_power = self.beta2_power * self.beta2
        ops.assign(self.beta1_power, beta1_power)
        ops.assign(self.beta2_power, beta2_power)
        lr = self.learning_rate
        keep = 1.0 - lr * self.weight_decay
        done = ()
        if self.fused is not None:
            # the kernel's settings: lr, beta1, beta2, eps, keep, coefficient, 1 - beta1^t, 1 - beta2^t
            hyper = ops.concat([lr.reshape(1), self.hyper])
            step = ops.stack([coefficient, 1.0 - beta1_power, 1.0 - beta2_power])
            decayed = ops.concat([hyper, keep.reshape(1), step])
            plain = ops.concat([hyper, ops.ones((1,), ms.float32), step])
            for param, m, v, grad, decays in zip(self.parameters, self.moment1, self.moment2, grads, self.decays):
                done = done + (self.fused(param, m, v, grad, decayed if decays else plain),)
            return done
        for param, m, v, grad, decays in zip(self.parameters, self.moment1, self.moment2, grads, self.decays):
            if decays:
                ops.assign(param, param * keep)
            done = done + (self.adam(param, m, v, beta1_power, beta2_power, lr, self.hyper[0], self.hyper[1],
                                     self.hyper[2], grad * coefficient),)
        return done


def build_optimizer(params, args: TrainingArguments):
    """(optimizer, parameters that get decoupled weight decay: AdamW applies it itself and returns [])."""
    decayed = [p for p in params if len(p.shape) >= 2] if args.weight_decay > 0 else []
    if args.optim == "sgd":
        # decay applied by the train step, on matrices only (MindSpore's own filter goes by parameter name)
        return nn.SGD(params, learning_rate=args.learning_rate, weight_decay=0.0), decayed
    if args.optim == "adam":  # weight decay as L2 on the gradient, like torch.optim.Adam
        return nn.Adam(params, learning_rate=args.learning_rate, beta1=args.adam_beta1, beta2=args.adam_beta2,
                       eps=args.adam_epsilon, weight_decay=args.weight_decay), []
    return AdamW(params, args.learning_rate, args.adam_beta1, args.adam_beta2, args.adam_epsilon, args.weight_decay,
                 decayed), []


def set_learning_rate(optimizer, value: float):
    param = optimizer.learning_rate
    param.set_data(ms.Tensor(np.full(param.shape, value, dtype=np.float32)))


def optimizer_state(optimizer, model_params) -> dict:
    """The optimizer's own Parameters (moments, step counters), by name."""
    own = {id(p) for p in model_params}
    return {name: p.asnumpy() for name, p in optimizer.parameters_and_names() if id(p) not in own}


def load_optimizer_state(optimizer, model_params, state: dict, where: str):
    from ..errors import WeightsError

    own = {id(p) for p in model_params}
    targets = {name: p for name, p in optimizer.parameters_and_names() if id(p) not in own}
    missing = sorted(targets.keys() - state.keys())
    if missing:
        raise WeightsError(f"{where} lacks optimizer tensors {', '.join(missing[:5])}; it was saved by a "
                           f"different optimizer or model")
    for name, param in targets.items():
        value = state[name]
        if value.size == 1 and int(np.prod(param.shape)) == 1:
            value = value.reshape(param.shape)  # scalars may be saved as [] or [1]
        if tuple(value.shape) != tuple(param.shape):
            raise WeightsError(f"{where}: optimizer tensor {name} has shape {list(value.shape)}, "
                               f"expected {list(param.shape)}")
        param.set_data(ms.Tensor(value).astype(param.dtype))
