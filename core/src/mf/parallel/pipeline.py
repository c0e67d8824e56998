"""Pipeline parallelism (GPipe schedule) with the collectives MindSpore's CPU backend has.

Stage s owns a contiguous run of the model's blocks; the first stage also the embedding, the
last the final norm and LM head. There is no Send/Receive on CPU, so an activation (or its
gradient) goes from one stage to the next as an AllReduce over that pair of ranks, the
receiver contributing zeros. All micro-batches flow forward, then all flow backward:

    stage 0:    F0 F1 .. send all           ... receive grads, B0 B1 ..
    stage P-1:  receive all, loss+B0 B1 ..  send grads

The model provides stage_embed(ids), stage_layer_inputs(ids), stage_layers(), stage_head(hidden),
stage_cells(first, last) (the non-block layers a stage uses) and tied_parameters() (weights the first
and last stage share: their gradients are summed between those two stages); mf.models.CausalLM
implements them for every decoder family.
"""
import numpy as np
import mindspore as ms
from mindspore import Tensor, nn, ops
from mindspore.communication import GlobalComm

from ..trainer.optim import build_optimizer
from ..trainer.step import ApplyUpdate
from ..nn.losses import TokenCrossEntropy
from ..pet.lora import _rename_parameters
from .distributed import ParallelError, Topology
from .tensor_parallel import split_range


def stage_layer_range(num_layers: int, stage: int, stages: int):
    """[first, last) blocks of a stage: contiguous and as even as possible."""
    return split_range(num_layers, stage, stages)


class Stage(nn.Cell):
    """The part of the model one pipeline stage runs."""

    def __init__(self, model, stage: int, stages: int):
        super().__init__(auto_prefix=False)
        self.model = model
        self.first, self.last = stage == 0, stage == stages - 1
        start, end = stage_layer_range(len(model.stage_layers()), stage, stages)
        self.blocks = nn.CellList([model.stage_layers()[i] for i in range(start, end)])
        self.block_range = (start, end)

    def construct(self, inputs, input_ids):
        x = self.model.stage_embed(input_ids) if self.first else inputs
        extra = self.model.stage_layer_inputs(input_ids)
        for block in self.blocks:
            x = block(x, *extra)
        return self.model.stage_head(x) if self.last else x


class StageLoss(nn.Cell):
    """The last stage with the loss: sum of next-token NLL / scale."""

    def __init__(self, stage):
        super().__init__(auto_prefix=False)
        self.stage = stage
        self.token_nll = TokenCrossEntropy()

    def construct(self, inputs, input_ids, labels, scale):
        logits = self.stage(inputs, input_ids)
        return self.token_nll(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)).sum() / scale


class StageProduct(nn.Cell):
    """sum(stage(inputs) * upstream gradient): its gradients are the stage's chain-rule gradients."""

    def __init__(self, stage):
        super().__init__(auto_prefix=False)
        self.stage = stage

    def construct(self, inputs, input_ids, upstream):
        return (self.stage(inputs, input_ids) * upstream).sum()


class Transfer(nn.Cell):
    """Move a tensor between two ranks: AllReduce over their pair, the receiver sending zeros."""

    def __init__(self, group):
        super().__init__()
        self.reduce = ops.AllReduce(ops.ReduceOp.SUM, group or GlobalComm.WORLD_COMM_GROUP)

    def construct(self, x):
        return self.reduce(x)


class PipelineRunner:
    """One training step of this rank's stage over micro_batch_num micro-batches."""

    def __init__(self, model, args, topology: Topology, groups, micro_batches: int):
        if not hasattr(model, "stage_layers"):
            raise ParallelError(f"{type(model).__name__} does not describe its pipeline stages "
                                f"(stage_embed / stage_layers / stage_head)")
        self.topology, self.micro_batches = topology, micro_batches
        self.index, self.stages = topology.pp_rank, topology.pp
        self.stage = Stage(model, self.index, self.stages)
        # the Stage's CellList renamed the blocks' parameters ("0.ln_1.weight"): give them back their paths
        _rename_parameters(model)
        self.first, self.last = self.stage.first, self.stage.last
        self.params = self._stage_parameters(model)
        self.optimizer, decayed = build_optimizer(self.params, args)
        self.apply = ApplyUpdate(self.optimizer, decayed, args.weight_decay, args.max_grad_norm)
        weights = ms.ParameterTuple(self.params)
        if self.last:
            self.loss_grad = ms.value_and_grad(StageLoss(self.stage), grad_position=0, weights=weights)
        else:
            position = None if self.first else 0
            self.vjp = ms.value_and_grad(StageProduct(self.stage), grad_position=position, weights=weights)
        self.forward = self.stage
        self.to_next = Transfer(groups.get(("pp_pair", self.index))) if not self.last else None
        self.to_prev = Transfer(groups.get(("pp_pair", self.index - 1))) if not self.first else None
        tied = set(model.tied_parameters()) if hasattr(model, "tied_parameters") else set()
        self.tied = [i for i, p in enumerate(self.params) if p.name in tied]
        self.tie = None
        if self.tied and (self.first or self.last):
            from .distributed import group

            ends = [topology.rank_of(topology.dp_rank, topology.mp_rank, s) for s in (0, self.stages - 1)]
            self.tie = Transfer(groups.get("pp_ends", group(ends)))
        self.pp_reduce = Transfer(groups.get("pp"))
        self.dp_reduce = Transfer(groups.get("dp")) if topology.dp > 1 else None
        self.hidden_size = model.config.hidden_size

    def _stage_parameters(self, model):
        """The trainable parameters this stage computes with (a tied embedding on both ends)."""
        cells = list(self.stage.blocks) + model.stage_cells(self.first, self.last)
        used = {id(p) for cell in cells for p in cell.trainable_params()}
        params = [p for p in model.trainable_params() if id(p) in used]
        if not params:
            raise ParallelError(f"pipeline stage {self.index} has no parameters")
        return params

    def step(self, ids, labels, tokens: int, key_dropout=None):
        """Run the schedule for this rank's rows; returns (loss, grad norm) as Tensors (same on all ranks).
        key_dropout(micro) keys the dropout masks of a micro-batch: before its forward and again before its
        backward, which recomputes the forward."""
        key_dropout = key_dropout or (lambda micro: None)
        parts_ids = np.array_split(ids, self.micro_batches)
        parts_labels = np.array_split(labels, self.micro_batches)
        scale = Tensor(np.float32(tokens))
        hidden_shapes = [(p.shape[0], p.shape[1], self.hidden_size) for p in parts_ids]
        received, grads, loss = [], None, Tensor(np.float32(0.0))
        # forward: every micro-batch through this stage, then on to the next stage
        for micro, part in enumerate(parts_ids):
            if self.first:
                inputs = Tensor(np.zeros(hidden_shapes[micro], np.float32))
            else:
                inputs = self.to_prev(Tensor(np.zeros(hidden_shapes[micro], np.float32)))
            received.append(inputs)
            key_dropout(micro)
            if not self.last:
                self.to_next(self.forward(inputs, Tensor(part)))
        # backward: the last stage starts from the loss; each stage passes input gradients back
        for micro, part in enumerate(parts_ids):
            inputs, part_ids = received[micro], Tensor(part)
            key_dropout(micro)
            if self.last:
                value, (input_grad, param_grads) = self.loss_grad(inputs, part_ids, Tensor(parts_labels[micro]),
                                                                  scale)
                loss = loss + value
            else:
                upstream = self.to_next(Tensor(np.zeros(hidden_shapes[micro], np.float32)))
                if self.first:
                    _, param_grads = self.vjp(inputs, part_ids, upstream)
                else:
                    _, (input_grad, param_grads) = self.vjp(inputs, part_ids, upstream)
            if not self.first:
                self.to_prev(input_grad)
            grads = param_grads if grads is None else tuple(a + b for a, b in zip(grads, param_grads))
        grads = list(grads)
        for i in self.tied:  # the embedding used by the first and the last stage: sum its two gradients
            grads[i] = self.tie(grads[i])
        if self.dp_reduce is not None:
            grads = [self.dp_reduce(g) for g in grads]
            loss = self.dp_reduce(loss)
        squares = sum(float((g.asnumpy().astype(np.float64) ** 2).sum())
                      for i, g in enumerate(grads) if not (self.last and i in self.tied and not self.first))
        norm = float(np.sqrt(self.pp_reduce(Tensor(np.float32(squares))).asnumpy()))
        self.apply(tuple(grads), Tensor(np.float32(norm)))
        loss = self.pp_reduce(loss if self.last else Tensor(np.float32(0.0)))
        return loss, Tensor(np.float32(norm))

    def full_state_dict(self, model):
        """The whole model's tensors: each from the stage that trains it (collective over the pipeline)."""
        owned = {p.name for p in self.params}
        tied = set(model.tied_parameters()) if hasattr(model, "tied_parameters") else set()
        state = {}
        for name, param in model.parameters_and_names():
            mine = name in owned and (self.first or name not in tied)
            value = param.asnumpy() if mine else np.zeros(param.shape, np.float32)
            state[name] = self.pp_reduce(Tensor(value)).asnumpy()
        return state
