"""mf's side of vit_fashion_mnist.py: train a ViT from scratch on the IDX files, then test accuracy (JSON)."""
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
data, model_dir, epochs, batch, lr = sys.argv[1:6]
flip = len(sys.argv) > 6 and sys.argv[6] == "1"
warmup_ratio = float(sys.argv[7]) if len(sys.argv) > 7 else 0.0
crop_min = float(sys.argv[8]) if len(sys.argv) > 8 else 1.0

from mf import Trainer, TrainingArguments  # noqa: E402
from mf.trainer import Callback  # noqa: E402
from mf_vision import ViTConfig, ViTForImageClassification  # noqa: E402

import mindspore as ms  # noqa: E402

ms.set_seed(0)
model = ViTForImageClassification(ViTConfig.from_json_file(f"{model_dir}/config.json"))
model.config.name_or_path = model_dir  # the image processor comes from the folder's preprocessor_config.json
args = TrainingArguments(output_dir=tempfile.mkdtemp(), num_train_epochs=float(epochs), batch_size=int(batch),
                         learning_rate=float(lr), warmup_ratio=warmup_ratio, weight_decay=0.05, logging_steps=100, save_steps=0,
                         plot_loss=False, lr_scheduler_type="linear", per_device_eval_batch_size=500,
                         random_resized_crop_scale=[crop_min, 1.0], random_flip=flip, seed=0)


class StepClock(Callback):
    """When each step ended: the steady step time leaves out the first steps (graph compilation)."""

    def __init__(self):
        self.ends = []

    def on_step_end(self, trainer, state):
        self.ends.append(time.perf_counter())


clock = StepClock()
trainer = Trainer(task="image_classification", model=model, args=args, callbacks=[clock],
                  train_dataset=f"{data}/train-images-idx3-ubyte.gz", eval_dataset=f"{data}/t10k-images-idx3-ubyte.gz")
start = time.perf_counter()
state = trainer.train()
seconds = time.perf_counter() - start
steady = clock.ends[5:]  # without the first steps (compilation)
step_ms = 1000 * (steady[-1] - steady[0]) / (len(steady) - 1)
metrics = trainer.evaluate()
print(json.dumps({"accuracy": metrics["eval_accuracy"], "top5": metrics["eval_top5_accuracy"],
                  "epoch_seconds": seconds / float(epochs), "steps": state.global_step,
                  "step_ms": step_ms, "total_seconds": time.perf_counter() - start}))
