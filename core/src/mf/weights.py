"""Weights I/O: safetensors, single files or shards with an index; and, for reading, MindSpore checkpoints
(.ckpt, a protobuf format: MindFormers' checkpoints). Nothing is ever unpickled.

A file written by mf carries the safetensors metadata ``{"format": "mf"}``, so a
loader can tell mf parameter names and layouts from a Hugging Face checkpoint's
(which says ``"pt"``) even where a tensor's shape alone would not tell.
"""
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

from .errors import WeightsError, WeightsNotFoundError
from .fileio import atomic_path, read_json, write_json

WEIGHTS_NAME = "model.safetensors"
WEIGHTS_INDEX_NAME = "model.safetensors.index.json"
MF_FORMAT = "mf"


def weights_files(directory) -> Optional[List[Path]]:
    """The safetensors files of a model directory (else its MindSpore .ckpt files), or None if it has none."""
    directory = Path(directory)
    index = directory / WEIGHTS_INDEX_NAME
    if index.is_file():
        data = read_json(index, WeightsError)
        weight_map = data.get("weight_map") if isinstance(data, dict) else None
        if not isinstance(weight_map, dict) or not weight_map:
            raise WeightsError(f"{index} has no 'weight_map' object; it should map tensor names to shard files")
        for shard in weight_map.values():
            if not isinstance(shard, str) or not shard:
                raise WeightsError(f"{index} maps a tensor to {shard!r}; shard names must be file names")
        files = []
        for shard in dict.fromkeys(weight_map.values()):
            # judged by the name, not by where it resolves: a Hugging Face cache's shards are links into its blobs
            if Path(shard).is_absolute() or ".." in Path(shard).parts:
                raise WeightsError(f"{index} names shard '{shard}', which is outside {directory}; an index may only "
                                   f"name files in its own directory")
            if not (directory / shard).is_file():
                raise WeightsError(f"{index} names shard '{shard}', which is missing from {directory}")
            files.append(directory / shard)
        return files
    single = directory / WEIGHTS_NAME
    if single.is_file():
        return [single]
    others = sorted(directory.glob("*.safetensors"))
    return others or sorted(directory.glob("*.ckpt")) or None


def read_safetensors(path) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """Tensors and metadata of one safetensors file; a damaged file is named in the error."""
    path = Path(path)
    try:
        tensors = {}
        with safe_open(str(path), framework="numpy") as f:
            metadata = f.metadata() or {}
            bfloat16 = [name for name in f.keys() if f.get_slice(name).get_dtype() == "BF16"]
            for name in f.keys():
                if name not in bfloat16:
                    tensors[name] = f.get_tensor(name)
        if bfloat16:
            tensors.update(_read_bfloat16(path, bfloat16))
        return tensors, metadata
    except Exception as exc:  # safetensors raises its own error types for every kind of damage
        size = path.stat().st_size if path.exists() else 0
        raise WeightsError(
            f"{path} ({size} bytes) is not a readable safetensors file: {exc}. The file is truncated or "
            f"corrupted; save or download it again") from None


def read_mindspore_checkpoint(path) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """Tensors of a MindSpore .ckpt file (MindFormers saves these), bfloat16 widened to float32; format
    'mindspore' (its names are the producer's: a family's converter maps them)."""
    import mindspore as ms

    path = Path(path)
    try:
        parameters = ms.load_checkpoint(str(path))
    except Exception as exc:  # MindSpore raises ValueError / RuntimeError for every kind of damage
        raise WeightsError(f"{path} is not a readable MindSpore checkpoint: {exc}. Save or download it again") \
            from None
    tensors = {}
    for name, value in parameters.items():
        if value.dtype == ms.bfloat16:
            value = value.astype(ms.float32)
        tensors[name] = value.asnumpy()
    return tensors, {"format": "mindspore"}


def _read_bfloat16(path: Path, names) -> Dict[str, np.ndarray]:
    """bfloat16 tensors (which numpy lacks) as float32: the upper half of a float32's bits, so the widening is
    exact. Read from the file's own layout: 8 bytes of header length, the JSON header, then the data."""
    import json
    import struct

    with open(path, "rb") as f:
        (header_length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_length))
    start = 8 + header_length
    out = {}
    for name in names:
        begin, end = header[name]["data_offsets"]
        raw = np.fromfile(path, dtype="<u2", count=(end - begin) // 2, offset=start + begin)
        out[name] = (raw.astype(np.uint32) << 16).view(np.float32).reshape(header[name]["shape"])
    return out


def load_state_dict(directory) -> Tuple[Dict[str, np.ndarray], str]:
    """All tensors of a model directory and their format ('mf', or the producer's, e.g. 'pt')."""
    files = weights_files(directory)
    if files is None:
        raise WeightsNotFoundError(
            f"{directory} has no weights: expected {WEIGHTS_NAME} or {WEIGHTS_INDEX_NAME} with its shards (or "
            f"MindSpore .ckpt files)")
    state_dict: Dict[str, np.ndarray] = {}
    formats = set()
    for path in files:
        tensors, metadata = read_mindspore_checkpoint(path) if path.suffix == ".ckpt" else read_safetensors(path)
        formats.add(metadata.get("format", "pt"))
        duplicated = state_dict.keys() & tensors.keys()
        if duplicated:
            raise WeightsError(f"tensor '{sorted(duplicated)[0]}' appears in more than one shard of {directory}")
        state_dict.update(tensors)
    if len(formats) > 1:
        raise WeightsError(f"the shards of {directory} mix formats {sorted(formats)}; re-save the model")
    return state_dict, formats.pop()


def save_state_dict(state_dict: Dict[str, np.ndarray], directory, fmt: str = MF_FORMAT,
                    max_shard_size: Optional[int] = None, extra_metadata: Optional[Dict[str, str]] = None):
    """Write tensors as model.safetensors, or as shards plus an index when max_shard_size (bytes) is set."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    metadata = {"format": fmt, **(extra_metadata or {})}
    # np.asarray keeps 0-d tensors (a logit scale) 0-d; np.ascontiguousarray would make them [1]
    arrays = {name: np.asarray(value, order="C") for name, value in state_dict.items()}
    shards = _split_shards(arrays, max_shard_size)
    stale = [directory / WEIGHTS_NAME, directory / WEIGHTS_INDEX_NAME, *directory.glob("model-*-of-*.safetensors")]
    if len(shards) == 1:
        write_safetensors(arrays, directory / WEIGHTS_NAME, metadata)
        keep = {directory / WEIGHTS_NAME}
    else:
        weight_map, keep = {}, set()
        for i, shard in enumerate(shards, start=1):
            name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
            write_safetensors(shard, directory / name, metadata)
            weight_map.update({tensor: name for tensor in shard})
            keep.add(directory / name)
        total = sum(a.nbytes for a in arrays.values())
        write_json(directory / WEIGHTS_INDEX_NAME, {"metadata": {"total_size": total, **metadata},
                                                    "weight_map": dict(sorted(weight_map.items()))})
        keep.add(directory / WEIGHTS_INDEX_NAME)
    # Old files that the new save does not overwrite would otherwise be picked up on load.
    for path in stale:
        if path.exists() and path not in keep:
            path.unlink()


def _split_shards(arrays, max_shard_size):
    if not max_shard_size:
        return [arrays]
    shards, current, size = [], {}, 0
    for name, value in arrays.items():
        if current and size + value.nbytes > max_shard_size:
            shards.append(current)
            current, size = {}, 0
        current[name] = value
        size += value.nbytes
    shards.append(current)
    return shards


def write_safetensors(arrays, path, metadata):
    """Write one safetensors file atomically; a failure (a full disk, most often) names the file, and whatever was
    at `path` before is left as it was."""
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            save_file(arrays, str(tmp), metadata=metadata)
    except Exception as exc:  # safetensors reports I/O failures as its own error type, naming no file
        size = sum(np.asarray(value).nbytes for value in arrays.values())
        raise WeightsError(f"writing {path} ({size / 1e6:.1f} MB) failed: {exc}. Free disk space (or choose another "
                           f"directory) and save again; any earlier file there is unchanged") from None


def check_float_weights(name: str, value: np.ndarray, where: str):
    """A floating-point parameter must get finite floating-point values that float32 can hold: integer or boolean
    tensors, NaN/inf, or float64 values beyond float32's range mean the file is not this model's weights (or is
    damaged), and would otherwise load silently as wrong numbers."""
    if value.dtype.kind != "f":
        raise WeightsError(f"{where}: tensor '{name}' is {value.dtype}, not floating point; the file holds other "
                           f"data under this name or is damaged")
    if not np.isfinite(value).all():
        raise WeightsError(f"{where}: tensor '{name}' holds NaN or infinite values; the checkpoint is damaged (or was "
                           f"saved after training diverged)")
    if value.dtype.itemsize > 4 and value.size and np.abs(value).max() > np.finfo(np.float32).max:
        raise WeightsError(f"{where}: tensor '{name}' has values up to {np.abs(value).max():.3g}, beyond float32's "
                           f"range; they would load as infinities")


def describe_mismatch(expected: Dict[str, Tuple[int, ...]], found: Dict[str, np.ndarray], where: str) -> Optional[str]:
    """A message naming missing, unexpected and mis-shaped tensors, or None when they fit."""
    missing = sorted(expected.keys() - found.keys())
    unexpected = sorted(found.keys() - expected.keys())
    misshaped = sorted(name for name in expected.keys() & found.keys()
                       if tuple(found[name].shape) != tuple(expected[name]))
    problems = []
    if missing:
        problems.append(f"missing tensors: {_some(missing)}")
    if misshaped:
        problems.append("mis-shaped tensors: " + _some(
            [f"{n} has shape {list(found[n].shape)}, the model needs {list(expected[n])}" for n in misshaped]))
    if unexpected:
        problems.append(f"tensors the model does not have: {_some(unexpected)}")
    if not problems:
        return None
    return (f"the weights in {where} do not fit the model: " + "; ".join(problems) +
            ". Check that config.json describes the same model as the weights")


def _some(names, limit=8):
    shown = ", ".join(names[:limit])
    return shown + (f" (and {len(names) - limit} more)" if len(names) > limit else "")
