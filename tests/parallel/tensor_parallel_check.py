"""Run under `mf launch --nproc 2`: model_parallel=2 vs the same model in one piece.

Every rank builds the full model (same seed), computes logits and gradients, then splits the
model over the two ranks and computes them again; gathered gradients must match. Rank 0 writes
the largest differences to OUT (JSON).  argv: OUT gpt2|llama
"""
import json
import sys

import mf  # noqa: F401  (sets OpenMP's wait policy before mindspore loads)
import numpy as np
import mindspore as ms
from mindspore import Tensor

from mf import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, init_context
from mf.parallel.distributed import Topology
from mf.parallel.tensor_parallel import apply_tensor_parallel, gather_full
from mf.plugins import get_registry

out_path, family = sys.argv[1], sys.argv[2]
rank, size = init_context(use_parallel=True)
ms.set_context(mode=ms.GRAPH_MODE)
ms.set_seed(0)
if family == "gpt2":
    model = GPT2LMHeadModel(GPT2Config(vocab_size=101, hidden_size=32, num_layers=2, num_heads=4, seq_length=16,
                                       hidden_dropout=0.0, embedding_dropout=0.0, attention_dropout=0.0))
else:
    model = LlamaForCausalLM(LlamaConfig(vocab_size=101, hidden_size=32, intermediate_size=64, num_layers=2,
                                         num_heads=4, n_kv_heads=2, seq_length=16))
model.set_train(False)
ids = Tensor(np.random.default_rng(0).integers(0, 101, (2, 12)).astype(np.int32))


def logits_and_grads(net):
    weights = net.trainable_params()
    loss_fn = lambda x: net(x, labels=x)[0]  # noqa: E731
    loss, grads = ms.jit(ms.value_and_grad(loss_fn, None, weights))(ids)
    names = [p.name for p in weights]
    return net(ids).asnumpy(), float(loss.asnumpy()), {n: g.asnumpy() for n, g in zip(names, grads)}


reference_logits, reference_loss, reference_grads = logits_and_grads(model)
topology = Topology(dp=1, mp=size, pp=1, rank=rank)
groups = topology.create_groups()
apply_tensor_parallel(model, get_registry().family(model.config.model_type).sharding_plan, topology.mp_rank,
                      topology.mp, groups.get("mp"))
logits, loss, grads = logits_and_grads(model)
grads = gather_full(grads, model)
result = {
    "logits": float(np.abs(logits - reference_logits).max()),
    "loss": abs(loss - reference_loss),
    "grads": max(float(np.abs(grads[n] - reference_grads[n]).max()) for n in reference_grads),
    "sharded_params": sum(1 for n, p in model.parameters_and_names()
                          if tuple(p.shape) != reference_grads[n].shape),
}
if rank == 0:
    with open(out_path, "w") as f:
        json.dump(result, f)
print(rank, result)
