"""Reference side of quantization_quality.py: perplexity of a Hugging Face causal LM in PyTorch float32 and
after PyTorch's dynamic int8 quantisation (quantize_dynamic on every nn.Linear), on the same token windows.

argv: model_dir windows.npy threads; prints {"float32": ppl, "dynamic int8": ppl} as JSON."""
import json
import math
import sys

import numpy as np
import torch
from transformers import AutoModelForCausalLM

torch.set_num_threads(int(sys.argv[3]))
windows = np.load(sys.argv[2])


def perplexity(model):
    losses = []
    with torch.no_grad():
        for window in windows:
            ids = torch.tensor(window.reshape(1, -1), dtype=torch.long)
            losses.append(float(model(ids, labels=ids).loss))
    return math.exp(sum(losses) / len(losses))


model = AutoModelForCausalLM.from_pretrained(sys.argv[1]).eval()
results = {"float32": perplexity(model)}
model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
results["dynamic int8"] = perplexity(model)
print(json.dumps(results))
