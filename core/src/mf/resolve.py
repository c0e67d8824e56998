"""Turning a name into something to load: a directory, a preset, or both.

`from_pretrained(name)` accepts a directory (a saved mf model or a Hugging Face
checkpoint) or a preset name. For a preset, mf looks for converted weights in
the local cache, ``$MF_HOME/<preset>`` (default ``~/.cache/mf/<preset>``).
"""
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .plugins import get_registry
from .registry import Preset


def mf_home() -> Path:
    """The local model cache: $MF_HOME, default ~/.cache/mf."""
    return Path(os.environ.get("MF_HOME", "~/.cache/mf")).expanduser()


@dataclass
class Location:
    """Where a named model lives: a directory, a preset, or a preset with cached files."""
    name: str
    directory: Optional[Path]
    preset: Optional[Preset]


def _looks_like_path(name: str) -> bool:
    return os.sep in name or name.startswith((".", "~")) or (os.altsep and os.altsep in name)


def locate(name_or_path) -> Location:
    """Find a directory or preset for name_or_path; errors say what was tried."""
    if isinstance(name_or_path, os.PathLike):
        name_or_path = os.fspath(name_or_path)
    if not isinstance(name_or_path, str) or not name_or_path:
        raise TypeError(f"expected a preset name or a directory path, got {name_or_path!r}")
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return Location(name_or_path, path, None)
    if path.exists():
        raise NotADirectoryError(
            f"{path} is a file; pass the directory that contains config.json and the weights")
    if _looks_like_path(name_or_path):
        raise FileNotFoundError(f"directory {path} does not exist")
    preset = get_registry().preset(name_or_path)
    cached = mf_home() / (preset.weights_from or preset.name)
    return Location(name_or_path, cached if (cached / "config.json").is_file() else None, preset)
