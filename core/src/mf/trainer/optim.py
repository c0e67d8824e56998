"""Optimizers and learning-rate schedules.

AdamW is MindSpore's fused Adam kernel (bias-corrected) plus a decoupled weight
decay applied to matrices only, as GPT-style training does; the unfused
nn.AdamWeightDecay is six times slower on CPU. Schedules are computed on the host
and written into the optimizer's learning-rate Parameter before each step.
"""
import math

import numpy as np
import mindspore as ms
from mindspore import nn

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


def build_optimizer(params, args: TrainingArguments):
    """(optimizer, parameters that get decoupled weight decay)."""
    decayed = [p for p in params if len(p.shape) >= 2] if args.weight_decay > 0 else []
    if args.optim == "sgd":
        # decay applied by the train step, on matrices only (MindSpore's own filter goes by parameter name)
        return nn.SGD(params, learning_rate=args.learning_rate, weight_decay=0.0), decayed
    if args.optim == "adam":  # weight decay as L2 on the gradient, like torch.optim.Adam
        return nn.Adam(params, learning_rate=args.learning_rate, beta1=args.adam_beta1, beta2=args.adam_beta2,
                       eps=args.adam_epsilon, weight_decay=args.weight_decay), []
    optimizer = nn.Adam(params, learning_rate=args.learning_rate, beta1=args.adam_beta1, beta2=args.adam_beta2,
                        eps=args.adam_epsilon, weight_decay=0.0)
    return optimizer, decayed


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
