"""Crash-safe training checkpoints.

output_dir/checkpoint-<step>/ holds the model (config.json + model.safetensors),
optimizer.safetensors and trainer_state.json. A checkpoint is written into a
temporary directory and renamed into place, and trainer_state.json, written
last, records every file's size: a checkpoint whose files are missing or
truncated is recognised as incomplete and the previous one is used.
"""
import hashlib
import json
import re
import shutil
import warnings
from pathlib import Path
from typing import List, Optional

import numpy as np
from safetensors import safe_open

from ..config import CONFIG_NAME
from ..fileio import read_json, write_json
from ..weights import WEIGHTS_INDEX_NAME, WEIGHTS_NAME, save_state_dict, write_safetensors

PREFIX = "checkpoint-"
STATE_NAME = "trainer_state.json"
OPTIMIZER_NAME = "optimizer.safetensors"
STATE_DIGEST = "state_sha256"


def checkpoint_dirs(output_dir) -> List[Path]:
    """Checkpoint directories, oldest first."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    found = [p for p in output_dir.iterdir() if p.is_dir() and re.fullmatch(rf"{PREFIX}\d+", p.name)]
    return sorted(found, key=lambda p: int(p.name[len(PREFIX):]))


def problem_with(checkpoint: Path) -> Optional[str]:
    """Why a checkpoint cannot be used, or None when it is complete."""
    state_path = checkpoint / STATE_NAME
    if not state_path.is_file():
        return f"{checkpoint} has no {STATE_NAME} (it was not finished)"
    try:
        state = read_json(state_path)
    except ValueError as exc:
        return str(exc)
    malformed = _malformed_state(state)
    if malformed:
        return f"{state_path} is malformed: {malformed}"
    if STATE_DIGEST in state:
        digest = state.pop(STATE_DIGEST)
        # the digest covers the content; the exact bytes json writes cover the rest (a cut trailing newline)
        if digest != _state_digest(state) or state_path.read_bytes() != _render_state(state, digest):
            return f"{state_path} has changed since it was written (its SHA-256 differs: corrupted)"
    match = re.fullmatch(rf"{PREFIX}(\d+)", checkpoint.name)
    if match and int(match.group(1)) != state["state"]["global_step"]:
        return (f"{state_path} says step {state['state']['global_step']}, but the folder is {checkpoint.name} "
                f"(corrupted or moved)")
    expected = [name for name in (CONFIG_NAME, optimizer_file(0)) if name not in state["files"]]
    if not any(name in state["files"] for name in (WEIGHTS_NAME, WEIGHTS_INDEX_NAME)):
        expected.append(WEIGHTS_NAME)
    if expected:
        return f"{state_path} does not list {', '.join(expected)}, which every checkpoint holds (corrupted)"
    checksums = state.get("checksums", {})
    for name, size in state["files"].items():
        if Path(name).name != name:
            return f"{state_path} lists '{name}', which is not a file of the checkpoint (corrupted)"
        path = checkpoint / name
        if not path.is_file():
            return f"{path} is missing"
        if path.stat().st_size != size:
            return f"{path} has {path.stat().st_size} bytes, {size} were written (truncated or corrupted)"
        if name in checksums and file_checksum(path) != checksums[name]:
            return f"{path} has changed since it was written (its SHA-256 differs: corrupted)"
        if name.endswith(".safetensors"):
            try:
                with safe_open(str(path), framework="numpy") as f:
                    f.keys()
            except Exception as exc:
                return f"{path} is not readable: {exc}"
    return None


def _state_digest(state: dict) -> str:
    return hashlib.sha256(json.dumps(state, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _render_state(state: dict, digest: str) -> bytes:
    """trainer_state.json's bytes as write_json writes them, the digest last."""
    return (json.dumps({**state, STATE_DIGEST: digest}, indent=2, ensure_ascii=False) + "\n").encode()


def file_checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _malformed_state(state) -> Optional[str]:
    """What is wrong with a trainer_state.json's structure (what resuming reads from it), or None."""
    if not isinstance(state, dict):
        return f"a JSON object is expected, not {type(state).__name__}"
    files, checksums, progress = state.get("files"), state.get("checksums", {}), state.get("state")
    if not isinstance(files, dict) or not all(isinstance(k, str) and type(v) is int for k, v in files.items()):
        return "'files' must map file names to sizes"
    if not isinstance(checksums, dict) or not all(isinstance(v, str) for v in checksums.values()):
        return "'checksums' must map file names to SHA-256 digests"
    if not isinstance(progress, dict):
        return "'state' (the training progress) is missing"
    for key in ("global_step", "epoch", "batch_in_epoch", "tokens_seen"):
        if key in progress and not (type(progress[key]) is int and progress[key] >= 0):
            return f"state.{key} must be a non-negative integer, got {progress[key]!r}"
    if type(progress.get("global_step")) is not int:
        return "state.global_step is missing"
    if not isinstance(progress.get("log_history", []), list):
        return "state.log_history must be a list"
    return None


def newest_complete(output_dir) -> Optional[Path]:
    """The newest usable checkpoint; skipped damaged ones are reported with a warning."""
    for checkpoint in reversed(checkpoint_dirs(output_dir)):
        problem = problem_with(checkpoint)
        if problem is None:
            return checkpoint
        warnings.warn(f"skipping checkpoint {checkpoint.name}: {problem}; using an older one")
    return None


def set_aside_newer(output_dir, checkpoint: Path):
    """Resuming from an older checkpoint of output_dir abandons the run's later checkpoints: they are renamed
    abandoned-checkpoint-N (kept, not deleted), so that a later resume_from_checkpoint=True continues this branch
    instead of jumping back to the abandoned one."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir() or checkpoint.resolve().parent != output_dir.resolve():
        return
    step = int(checkpoint.name[len(PREFIX):]) if re.fullmatch(rf"{PREFIX}\d+", checkpoint.name) else None
    if step is None:
        return
    for newer in checkpoint_dirs(output_dir):
        if int(newer.name[len(PREFIX):]) > step:
            target = output_dir / f"abandoned-{newer.name}"
            suffix = 1
            while target.exists():
                target, suffix = output_dir / f"abandoned-{newer.name}.{suffix}", suffix + 1
            newer.rename(target)
            warnings.warn(f"resuming from {checkpoint.name}: the later {newer.name} belongs to the abandoned run and "
                          f"is now {target.name}")


def _barrier():
    from mindspore import Tensor, ops

    ops.AllReduce()(Tensor(np.zeros(1, np.float32))).asnumpy()


def optimizer_file(rank: int) -> str:
    return OPTIMIZER_NAME if rank == 0 else f"optimizer-rank{rank}.safetensors"


def save_checkpoint(output_dir, step: int, model, optimizer_tensors: dict, state: dict, tokenizer=None,
                    weights=None, rank: int = 0, world: int = 1) -> Path:
    """Write checkpoint-<step> atomically; returns its path.

    In a distributed run every rank calls this: rank 0 writes the (whole) model, each rank its
    own optimizer state, and rank 0 renames the directory into place once all are written.
    """
    output_dir = Path(output_dir)
    final = output_dir / f"{PREFIX}{step}"
    scratch = output_dir / f".{PREFIX}{step}.tmp"
    if rank == 0:
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
    if world > 1:
        _barrier()
    try:
        _write_checkpoint_files(scratch, final, rank, world, model, optimizer_tensors, state, tokenizer, weights)
    except BaseException:
        if world == 1:  # a failed save (a full disk) leaves no scratch folder behind; earlier checkpoints stay
            shutil.rmtree(scratch, ignore_errors=True)
        raise
    if world > 1:
        _barrier()
    return final


def _write_checkpoint_files(scratch, final, rank, world, model, optimizer_tensors, state, tokenizer, weights):
    write_safetensors({name: np.asarray(value, order="C") for name, value in optimizer_tensors.items()},
                      scratch / optimizer_file(rank), {"format": "mf", "content": "optimizer"})
    if world > 1:
        _barrier()
    if rank == 0:
        if weights is None:
            model.save_pretrained(scratch)
        else:
            save_state_dict(weights, scratch, extra_metadata={"model_type": model.config.model_type})
            model.config.save_pretrained(scratch)
        if tokenizer is not None:
            tokenizer.save_pretrained(scratch)
        written = [p for p in scratch.iterdir() if p.is_file()]
        files = {p.name: p.stat().st_size for p in written}
        # checksums let a resume tell a checkpoint whose bytes changed (same size) from a good one
        checksums = {p.name: file_checksum(p) for p in written}
        content = {**state, "files": files, "checksums": checksums}
        # the state file vouches for itself too: a changed step or size inside it is detected
        write_json(scratch / STATE_NAME, {**content, STATE_DIGEST: _state_digest(content)})
        if final.exists():
            shutil.rmtree(final)
        scratch.rename(final)


def load_optimizer_tensors(checkpoint: Path, rank: int = 0) -> dict:
    from ..weights import read_safetensors

    path = checkpoint / optimizer_file(rank)
    if not path.is_file():
        raise FileNotFoundError(f"{checkpoint} has no optimizer state for rank {rank} ({path.name}); it was saved "
                                f"by a run with a different parallel layout")
    return read_safetensors(path)[0]


def rotate(output_dir, keep: Optional[int], protect: Optional[Path] = None):
    """Delete all but the `keep` newest checkpoints (never `protect`)."""
    if not keep:
        return
    for old in checkpoint_dirs(output_dir)[:-keep]:
        if protect is None or old.resolve() != protect.resolve():
            shutil.rmtree(old, ignore_errors=True)
