"""PyTorch side of t5_generate.py (runs in the reference venv): first-token latency, decoding tokens/s and
the generated tokens, per batch size."""
import json
import sys
import time

import numpy as np
import torch
from transformers import T5ForConditionalGeneration

directory, threads, source_length, new_tokens, repeats = sys.argv[1], *map(int, sys.argv[2:6])
torch.set_num_threads(threads)
model = T5ForConditionalGeneration.from_pretrained(directory).eval()


def median(values):
    return sorted(values)[len(values) // 2]


results = {}
with torch.no_grad():
    for batch in (1, 8):
        ids = torch.tensor(np.random.default_rng(batch).integers(3, 32000, (batch, source_length)))
        tokens = model.generate(input_ids=ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
        first, total = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            model.generate(input_ids=ids, max_new_tokens=1, min_new_tokens=1, do_sample=False)
            first.append(time.perf_counter() - start)
            start = time.perf_counter()
            model.generate(input_ids=ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
            total.append(time.perf_counter() - start)
        results[batch] = {"first_token_s": median(first), "tokens_per_s": batch * new_tokens / median(total),
                          "tokens": tokens.tolist()}
print(json.dumps(results))
