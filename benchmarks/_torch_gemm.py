"""PyTorch side of gemm.py: GFLOP/s of torch.mm on the training step's products (run in the reference venv).

argv: threads repeats; prints JSON {label: GFLOP/s}."""
import json
import sys
import time

import torch

from _gemm_common import flops, gpt2_step_products

torch.set_num_threads(int(sys.argv[1]))
repeats = int(sys.argv[2])
results = {}
for label, a_shape, b_shape, transpose_a, transpose_b in gpt2_step_products():
    a, b = torch.randn(*a_shape), torch.randn(*b_shape)
    left, right = (a.t() if transpose_a else a), (b.t() if transpose_b else b)
    torch.mm(left, right)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(left, right)
        times.append(time.perf_counter() - start)
    results[label] = flops(a_shape, b_shape, transpose_a, transpose_b) / sorted(times)[len(times) // 2] / 1e9
print(json.dumps(results))
