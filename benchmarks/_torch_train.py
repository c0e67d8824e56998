"""PyTorch side of train.py: a transformers causal LM with fused AdamW (run in the reference venv).

argv: batch length steps threads config_dir (the Hugging Face config.json the mf side wrote)."""
import json
import resource
import sys
import time

import torch
from transformers import AutoConfig, AutoModelForCausalLM

batch, length, steps, threads = (int(a) for a in sys.argv[1:5])
config = AutoConfig.from_pretrained(sys.argv[5])
torch.set_num_threads(threads)
torch.manual_seed(0)
model = AutoModelForCausalLM.from_config(config)
model.train()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01, fused=True)
ids = torch.randint(0, config.vocab_size, (batch, length), generator=torch.Generator().manual_seed(0))


def step():
    loss = model(ids, labels=ids).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


step()
times = []
for _ in range(steps):
    start = time.perf_counter()
    step()
    times.append(time.perf_counter() - start)
a = torch.randn(2048, 2048)
a @ a
best = float("inf")
for _ in range(3):  # the best of 3 rounds of 5, as _mf_train.py measures its own
    start = time.perf_counter()
    for _ in range(5):
        a @ a
    best = min(best, (time.perf_counter() - start) / 5)
peak = 2 * 2048 ** 3 / best
print(json.dumps({"step_s": sorted(times)[len(times) // 2], "peak": peak,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
