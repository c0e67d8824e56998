"""Turning a name into something to load: a directory, a preset, or both.

`from_pretrained(name)` accepts a directory (a saved mf model or a Hugging Face
checkpoint), a preset name, or a Hugging Face Hub repository id (owner/name, fetched
into huggingface_hub's cache, see hub.py). For a preset, mf looks for converted weights
in the local cache, ``$MF_HOME/<preset>`` (default ``~/.cache/mf/<preset>``), then in
the Hub repository the preset names.
"""
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .plugins import get_registry
from .registry import Preset
from .fileio import user_path


def mf_home() -> Path:
    """The local model cache: $MF_HOME, default ~/.cache/mf."""
    return user_path(os.environ.get("MF_HOME", "~/.cache/mf"))


@dataclass
class Location:
    """Where a named model lives: a directory, a preset, or a preset with cached files."""
    name: str
    directory: Optional[Path]
    preset: Optional[Preset]


def _looks_like_path(name: str) -> bool:
    return os.sep in name or name.startswith((".", "~")) or (os.altsep and os.altsep in name)


def locate(name_or_path, revision: Optional[str] = None, weights: bool = False, token=None) -> Location:
    """Find a directory, preset or Hub repository for name_or_path; errors say what was tried.

    A Hub id is fetched here (weights too when weights=True); a preset's Hub weights are fetched
    only by hub_weights(), when a model is loaded."""
    from .hub import fetch, is_hub_id

    if isinstance(name_or_path, os.PathLike):
        name_or_path = os.fspath(name_or_path)
    if not isinstance(name_or_path, str) or not name_or_path:
        raise TypeError(f"expected a preset name, a directory path or a Hub id, got {name_or_path!r}")
    path = user_path(name_or_path)
    if path.is_dir():
        if not _looks_like_path(name_or_path) and get_registry().presets.get(name_or_path) is not None:
            # a local directory wins, as in transformers (save_pretrained("gpt2") then from_pretrained("gpt2")),
            # but never silently
            warnings.warn(f"'{name_or_path}' names a preset and also the directory {path.resolve()}: loading the "
                          f"directory. Write './{name_or_path}' to mean the directory, or rename or move it to load "
                          f"the preset", UserWarning, stacklevel=3)
        return Location(name_or_path, path, None)
    if path.exists():
        raise NotADirectoryError(
            f"{path} is a file; pass the directory that contains config.json and the weights")
    registry = get_registry()
    preset = registry.presets.get(name_or_path)
    if preset is not None:
        cached = mf_home() / (preset.weights_from or preset.name)
        return Location(name_or_path, cached if (cached / "config.json").is_file() else None, preset)
    if is_hub_id(name_or_path):
        return Location(name_or_path, fetch(name_or_path, revision, weights=weights, token=token), None)
    if _looks_like_path(name_or_path):
        raise FileNotFoundError(f"directory {path} does not exist")
    registry.preset(name_or_path)  # raises: unknown preset, with close names
    raise AssertionError("unreachable")


def hub_weights(preset: Preset, revision: Optional[str] = None, token=None) -> Path:
    """The Hub snapshot of a preset's weights (downloaded when missing); errors say when there are none."""
    from .errors import WeightsNotFoundError
    from .hub import fetch

    base = get_registry().preset(preset.weights_from) if preset.weights_from else preset
    if not base.hub_repo:
        raise WeightsNotFoundError(
            f"preset '{preset.name}' names no public weights: {base.weights_note or 'none are published'}. "
            f"mf looked in {mf_home() / base.name} (MF_HOME). Convert a local Hugging Face checkpoint with "
            f"`mf convert /path/to/checkpoint {base.name}`, or pass that directory to from_pretrained; for random "
            f"weights use AutoModel.from_config(AutoConfig.from_pretrained('{preset.name}')).")
    return fetch(base.hub_repo, revision or base.hub_revision, weights=True, token=token)
