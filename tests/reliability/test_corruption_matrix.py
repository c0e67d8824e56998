"""The corruption matrix (issue 19): every file of a checkpoint truncated, emptied, deleted, or with a byte
flipped in its header, its middle or its end, and trainer_state.json malformed in every way resuming reads
it. Each damage must be detected (problem_with names the file), resume_from_checkpoint=True must fall back
to the previous checkpoint and train on to the same losses, and nothing already written may change. A save
that fails half-way (the disk full) leaves the previous checkpoints untouched and no scratch folder.
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import mindspore as ms

from mf import GPT2Config, GPT2LMHeadModel, TokenBlocks, Trainer, TrainingArguments
from mf.trainer import checkpoint as ckpt


def _model():
    ms.set_seed(0)
    return GPT2LMHeadModel(GPT2Config(vocab_size=97, hidden_size=32, num_layers=2, num_heads=2, seq_length=32,
                                      hidden_dropout=0.1, embedding_dropout=0.0, attention_dropout=0.0))


ROWS = np.random.default_rng(0).integers(0, 97, (48, 17))


def _train(output_dir, max_steps, resume=None):
    args = TrainingArguments(output_dir=str(output_dir), batch_size=4, max_steps=max_steps, save_steps=2,
                             logging_steps=1, seed=0, lr_scheduler_type="constant", resume_from_checkpoint=resume)
    Trainer(model=_model(), args=args, train_dataset=TokenBlocks(ROWS)).train()
    records = [json.loads(line) for line in (Path(output_dir) / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in records if "loss" in r}


def _damages(checkpoint: Path):
    """(description, function applying it to a copy of the checkpoint) for every file and kind of damage."""
    def truncate(name, keep):
        def apply(folder):
            path = folder / name
            path.write_bytes(path.read_bytes()[:keep(path.stat().st_size)])
        return apply

    def flip(name, where):
        def apply(folder):
            data = bytearray((folder / name).read_bytes())
            data[where(len(data))] ^= 0x01
            (folder / name).write_bytes(bytes(data))
        return apply

    def delete(name):
        return lambda folder: (folder / name).unlink()

    for name in sorted(p.name for p in checkpoint.iterdir() if p.is_file()):
        yield f"{name}: emptied", truncate(name, lambda n: 0)
        yield f"{name}: cut in half", truncate(name, lambda n: n // 2)
        yield f"{name}: last byte cut", truncate(name, lambda n: n - 1)
        yield f"{name}: deleted", delete(name)
        yield f"{name}: byte flipped in its header", flip(name, lambda n: min(12, n - 1))
        yield f"{name}: byte flipped in its middle", flip(name, lambda n: n // 2)
        yield f"{name}: byte flipped at its end", flip(name, lambda n: n - 2)
    state = json.loads((checkpoint / ckpt.STATE_NAME).read_text())

    def rewrite(value):
        return lambda folder: (folder / ckpt.STATE_NAME).write_text(value if isinstance(value, str) else
                                                                    json.dumps(value))
    malformed = [
        "not json {", "[]", "null", json.dumps({**state, "state": None}),
        {**state, "state": {**state["state"], "global_step": "four"}},
        {**state, "state": {**state["state"], "global_step": 5}},
        {**state, "files": ["model.safetensors"]}, {**state, "files": {}}, {**state, "checksums": 7},
        {key: value for key, value in state.items() if key != "state"},
        {key: value for key, value in state.items() if key != "files"},
        {**state, "files": {**state["files"], "../outside": 1}},
    ]
    for number, value in enumerate(malformed):
        yield f"trainer_state.json malformed #{number}", rewrite(value)


def test_every_damage_to_a_checkpoint_is_detected_and_resume_falls_back(tmp_path):
    reference = _train(tmp_path / "reference", 6)
    out = tmp_path / "out"
    _train(out, 4)
    newest, previous = out / "checkpoint-4", out / "checkpoint-2"
    pristine = shutil.copytree(newest, tmp_path / "pristine")
    detected, tried = [], []
    for description, damage in _damages(pristine):
        copy = tmp_path / "damaged"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(pristine, copy)
        damage(copy)
        tried.append(description)
        if ckpt.problem_with(copy) is not None:
            detected.append(description)
    missed = sorted(set(tried) - set(detected))
    print(f"corruption matrix: {len(detected)} of {len(tried)} damaged checkpoints detected")
    assert not missed, missed

    # one damage on the real output_dir: resume=True takes checkpoint-2, trains to step 6 with the same losses
    before = {p.name: p.read_bytes() for p in previous.iterdir()}
    data = bytearray((newest / "model.safetensors").read_bytes())
    data[len(data) // 2] ^= 0x01
    (newest / "model.safetensors").write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="checkpoint-4"):
        resumed = _train(out, 6, resume=True)
    assert {p.name: p.read_bytes() for p in previous.iterdir()} == before  # what was written stays as it was
    assert resumed == reference


DISK_FULL = r'''
import resource, signal, sys
import numpy as np
import mindspore as ms
ms.set_device("CPU")
from mf import GPT2Config, GPT2LMHeadModel, TokenBlocks, Trainer, TrainingArguments

ms.set_seed(0)
model = GPT2LMHeadModel(GPT2Config(vocab_size=97, hidden_size=32, num_layers=2, num_heads=2, seq_length=32))
rows = np.random.default_rng(0).integers(0, 97, (48, 17))
args = TrainingArguments(output_dir=sys.argv[1], batch_size=4, max_steps=4, save_steps=2, logging_steps=1, seed=0,
                         resume_from_checkpoint=True if sys.argv[2] == "resume" else None)


class DiskFills:
    """After the first checkpoint, no file may grow past 4 KiB: the next save fails part-way, as on a full disk
    (EFBIG from the file-size limit stands in for ENOSPC: both are an OSError from write)."""
    def on_save(self, trainer, state):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


callbacks = [DiskFills()] if sys.argv[2] == "fill" else []
Trainer(model=model, args=args, train_dataset=TokenBlocks(rows), callbacks=callbacks).train()
'''


def test_a_save_that_fills_the_disk_fails_clearly_and_loses_nothing(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(DISK_FULL)
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, str(script), str(out), "fill"], capture_output=True, text=True, timeout=600)
    assert run.returncode != 0
    last_line = run.stderr.strip().splitlines()[-1]  # mf's error, naming the file and the fix
    assert last_line.startswith("mf.errors.WeightsError: writing ") and ".checkpoint-4.tmp/" in last_line, last_line
    assert "File too large" in last_line and "Free disk space" in last_line, last_line
    assert ckpt.problem_with(out / "checkpoint-2") is None
    assert not (out / "checkpoint-4").exists() and not list(out.glob(".checkpoint-*"))
    # space again: resuming continues from checkpoint-2
    resumed = subprocess.run([sys.executable, str(script), str(out), "resume"], capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert ckpt.problem_with(out / "checkpoint-4") is None
