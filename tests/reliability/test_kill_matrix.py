"""The kill matrix (issue 19): SIGKILL a training at random moments — starting, training, saving a checkpoint,
resuming — and restart it each time with resume on, dropout on everywhere. When a run finally completes, every
step's loss and every final weight must equal those of a run that was never interrupted.

MF_KILLS sets how many kills (CI: the default below; `nox -s reliability` runs many more). The test prints
the tally: kills survived / tried, and how many landed in the middle of a checkpoint save.
"""
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

KILLS = int(os.environ.get("MF_KILLS", "3"))

SCRIPT = r'''
import sys, time
import numpy as np
import mindspore as ms
ms.set_device("CPU")
from mf import Callback, GPT2Config, GPT2LMHeadModel, TokenBlocks, Trainer, TrainingArguments
from mf import weights
from mf.trainer import checkpoint as ckpt

output_dir = sys.argv[1]
ms.set_seed(0)
model = GPT2LMHeadModel(GPT2Config(vocab_size=97, hidden_size=32, num_layers=2, num_heads=2, seq_length=32,
                                   hidden_dropout=0.1, embedding_dropout=0.1, attention_dropout=0.1))
rows = np.random.default_rng(0).integers(0, 97, (48, 17))


class Steady(Callback):
    """A few milliseconds a step: the tiny model would otherwise finish before a kill could land mid-run."""

    def on_step_end(self, trainer, state):
        time.sleep(0.05)


# a slow disk: each checkpoint file takes 0.1 s more to write, so that kills land mid-save too
write_safetensors = ckpt.write_safetensors


def slow_write(*args, **kwargs):
    time.sleep(0.1)
    return write_safetensors(*args, **kwargs)


ckpt.write_safetensors = weights.write_safetensors = slow_write
resume = ckpt.newest_complete(output_dir) is not None
args = TrainingArguments(output_dir=output_dir, batch_size=4, learning_rate=5e-3, max_steps=24, logging_steps=1,
                         save_steps=2, save_total_limit=3, seed=0, resume_from_checkpoint=resume or None)
Trainer(model=model, args=args, train_dataset=TokenBlocks(rows), callbacks=[Steady()]).train()
'''


def _losses(output_dir):
    records = [json.loads(line) for line in (Path(output_dir) / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"]) for r in records if "loss" in r]


def _weights(output_dir):
    return load_file(str(Path(output_dir) / "model.safetensors"))


def test_killed_and_resumed_training_equals_the_uninterrupted_one(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    started = time.perf_counter()
    reference = subprocess.run([sys.executable, str(script), str(tmp_path / "reference")], capture_output=True,
                               text=True, timeout=900)
    duration = time.perf_counter() - started
    assert reference.returncode == 0, reference.stderr[-3000:]

    chance = random.Random(os.environ.get("MF_KILL_SEED", "0"))
    kills = mid_save = rounds = 0
    while kills < KILLS:
        # a round: one output_dir, killed and restarted until a run completes, then compared with the reference
        rounds += 1
        cut = tmp_path / f"killed-{rounds}"
        while True:
            run = subprocess.Popen([sys.executable, str(script), str(cut)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
            try:
                _, stderr = run.communicate(timeout=chance.uniform(0.2, 1.0) * duration if kills < KILLS else 900)
            except subprocess.TimeoutExpired:
                mid_save += any(p.name.endswith(".tmp") for p in cut.glob(".checkpoint-*"))
                os.kill(run.pid, signal.SIGKILL)
                run.communicate()
                kills += 1
                continue
            assert run.returncode == 0, stderr[-3000:]
            break
        _check_same_run(tmp_path / "reference", cut)
    print(f"kill matrix: {kills} kills survived of {kills} tried ({mid_save} during a checkpoint save) in "
          f"{rounds} rounds, dropout on")


def _check_same_run(reference, cut):
    assert _losses(cut) == _losses(reference)  # every step once, each loss bit-identical
    expected, got = _weights(reference), _weights(cut)
    assert sorted(got) == sorted(expected)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
