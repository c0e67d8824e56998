"""PyTorch side of bert_inference.py (runs in the reference venv): sequences/s and logits per batch size."""
import json
import sys
import time

import numpy as np
import torch
from transformers import BertForSequenceClassification

directory, threads, length, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
model = BertForSequenceClassification.from_pretrained(directory).eval()
results = {}
with torch.no_grad():
    for batch in (1, 8):
        rng = np.random.default_rng(batch)
        ids = torch.tensor(rng.integers(1000, model.config.vocab_size, (batch, length)))
        mask, types = torch.ones_like(ids), torch.zeros_like(ids)
        logits = model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits  # warm up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(input_ids=ids, attention_mask=mask, token_type_ids=types)
            times.append(time.perf_counter() - start)
        results[batch] = {"per_second": batch / sorted(times)[len(times) // 2], "logits": logits.tolist()}
print(json.dumps(results))
