"""transformers + PyTorch side of vit_fashion_mnist.py: the same ViT, recipe and batches (JSON on stdout)."""
import gzip
import json
import sys
import time

import numpy as np
import torch
from transformers import ViTConfig, ViTForImageClassification

data, model_dir, epochs, batch, lr, threads = sys.argv[1:7]
torch.set_num_threads(int(threads))
torch.manual_seed(0)


def idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(raw[3])]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def pixels(images):
    return torch.tensor(((images.astype(np.float32) / 255 - 0.2860) / 0.3530)[:, None])


config = json.load(open(f"{model_dir}/config.json"))
model = ViTForImageClassification(ViTConfig(**config))
if config.get("stem_channels"):  # mf's convolutional stem: 3x3 stride-2 convolutions + ReLU, then the projection
    widths = [config["num_channels"]] + config["stem_channels"]
    layers = []
    for c_in, c_out in zip(widths, widths[1:]):
        convolution = torch.nn.Conv2d(c_in, c_out, 3, stride=2, padding=1)
        torch.nn.init.kaiming_normal_(convolution.weight, nonlinearity="relu")
        torch.nn.init.zeros_(convolution.bias)
        layers += [convolution, torch.nn.ReLU()]
    patch = config["patch_size"] // 2 ** len(config["stem_channels"])
    projection = torch.nn.Conv2d(widths[-1], config["hidden_size"], patch, stride=patch)
    torch.nn.init.normal_(projection.weight, std=config.get("initializer_range", 0.02))
    torch.nn.init.zeros_(projection.bias)


    class StemProjection(torch.nn.Sequential):
        @property
        def weight(self):  # transformers' patch embedding reads projection.weight for its dtype
            return self[-1].weight

    model.vit.embeddings.patch_embeddings.projection = StemProjection(*layers, projection)
train_x, train_y = idx(f"{data}/train-images-idx3-ubyte.gz"), idx(f"{data}/train-labels-idx1-ubyte.gz")
test_x, test_y = idx(f"{data}/t10k-images-idx3-ubyte.gz"), idx(f"{data}/t10k-labels-idx1-ubyte.gz")
batch, epochs = int(batch), float(epochs)
steps_per_epoch = len(train_x) // batch
total = int(steps_per_epoch * epochs)
optimizer = torch.optim.AdamW(model.parameters(), lr=float(lr), weight_decay=0.05)
schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / total)
rng = np.random.default_rng(0)
model.train()
start = time.perf_counter()
step, ends = 0, []
while step < total:
    order = rng.permutation(len(train_x))
    for i in range(steps_per_epoch):
        if step >= total:
            break
        rows = order[i * batch:(i + 1) * batch]
        loss = model(pixel_values=pixels(train_x[rows]), labels=torch.tensor(train_y[rows].astype(np.int64))).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        step += 1
        ends.append(time.perf_counter())
seconds = time.perf_counter() - start
model.eval()
correct = 0
with torch.no_grad():
    for i in range(0, len(test_x), 500):
        correct += int((model(pixel_values=pixels(test_x[i:i + 500])).logits.argmax(-1).numpy() ==
                        test_y[i:i + 500]).sum())
step_ms = 1000 * (ends[-1] - ends[5]) / (len(ends) - 6)  # without the first steps
print(json.dumps({"accuracy": correct / len(test_x), "epoch_seconds": seconds / epochs, "step_ms": step_ms}))
