"""mf's side of bert_spam.py: finetune MiniLM for text classification, then test accuracy (JSON on stdout)."""
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
work, minilm, epochs, batch, length, lr = sys.argv[1:7]

from mf import Trainer, TrainingArguments  # noqa: E402

args = TrainingArguments(output_dir=tempfile.mkdtemp(), num_train_epochs=float(epochs), batch_size=int(batch),
                         seq_length=int(length), learning_rate=float(lr), warmup_steps=0, weight_decay=0.01,
                         logging_steps=50, save_steps=0, plot_loss=False, lr_scheduler_type="linear",
                         per_device_eval_batch_size=64)
trainer = Trainer(task="text_classification", model=minilm, args=args, train_dataset=f"{work}/train.jsonl",
                  eval_dataset=f"{work}/test.jsonl")
start = time.perf_counter()
state = trainer.finetune()
seconds = time.perf_counter() - start
metrics = trainer.evaluate()
print(json.dumps({"accuracy": metrics["eval_accuracy"], "macro_f1": metrics["eval_macro_f1"],
                  "epoch_seconds": seconds / float(epochs), "steps": state.global_step}))
