"""PyTorch side of generate.py: prefill latency and decode speed of a transformers causal LM (run in the reference venv).

With a 6th argument "dynamic_int8", the model is first quantised by PyTorch's own dynamic int8
(torch.ao.quantization.quantize_dynamic on every nn.Linear: int8 weights, activations quantised per call)."""
import json
import sys
import time

import torch
from transformers import AutoModelForCausalLM

torch.set_num_threads(int(sys.argv[2]))
model = AutoModelForCausalLM.from_pretrained(sys.argv[1]).eval()
if len(sys.argv) > 6 and sys.argv[6] == "dynamic_int8":
    model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
prompt_length, new_tokens, repeats = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
results = {}
with torch.no_grad():
    for batch in (1, 8):
        ids = torch.randint(3, model.config.vocab_size, (batch, prompt_length), generator=torch.Generator().manual_seed(0))
        model.generate(ids, max_new_tokens=4, min_new_tokens=4, do_sample=False, pad_token_id=0)  # warm up
        prefill, total = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            model(ids, use_cache=True)
            prefill.append(time.perf_counter() - start)
            start = time.perf_counter()
            model.generate(ids, max_new_tokens=new_tokens + 1, min_new_tokens=new_tokens + 1, do_sample=False,
                           pad_token_id=0)
            total.append(time.perf_counter() - start)
        results[batch] = {"prefill_s": sorted(prefill)[len(prefill) // 2], "total_s": sorted(total)[len(total) // 2]}
print(json.dumps(results))
