"""transformers + PyTorch side of bert_spam.py (runs in the reference venv)."""
import json
import math
import sys
import time

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

work, minilm, epochs, batch, length, lr, threads = sys.argv[1:8]
epochs, batch, length, lr = float(epochs), int(batch), int(length), float(lr)
torch.set_num_threads(int(threads))
torch.manual_seed(0)


def read(split):
    rows = [json.loads(line) for line in open(f"{work}/{split}.jsonl", encoding="utf-8")]
    return [r["text"] for r in rows], torch.tensor([r["label"] for r in rows])


tokenizer = AutoTokenizer.from_pretrained(minilm)
model = AutoModelForSequenceClassification.from_pretrained(minilm, num_labels=2)
texts, labels = read("train")
encoded = tokenizer(texts, truncation=True, max_length=length, padding="max_length", return_tensors="pt")
steps = math.ceil(epochs * (len(texts) // batch))
decay = [p for n, p in model.named_parameters() if p.ndim > 1]
rest = [p for n, p in model.named_parameters() if p.ndim <= 1]
optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}], lr=lr)
schedule = get_linear_schedule_with_warmup(optimizer, 0, steps)
model.train()
generator = torch.Generator().manual_seed(0)
start, done = time.perf_counter(), 0
while done < steps:
    order = torch.randperm(len(texts), generator=generator)
    for i in range(len(texts) // batch):
        rows = order[i * batch:(i + 1) * batch]
        out = model(input_ids=encoded["input_ids"][rows], attention_mask=encoded["attention_mask"][rows],
                    token_type_ids=encoded["token_type_ids"][rows], labels=labels[rows])
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        done += 1
        if done >= steps:
            break
seconds = time.perf_counter() - start
model.eval()
texts, labels = read("test")
correct = 0
with torch.no_grad():
    for i in range(0, len(texts), 64):
        enc = tokenizer(texts[i:i + 64], truncation=True, max_length=length, padding="max_length", return_tensors="pt")
        correct += int((model(**enc).logits.argmax(-1) == labels[i:i + 64]).sum())
print(json.dumps({"accuracy": correct / len(texts), "epoch_seconds": seconds / epochs, "steps": steps}))
