"""Atomic file writes and JSON reading with errors that name the file.

Everything mf writes goes to a temporary name in the same directory and is
renamed into place, so an interrupted save never leaves a half-written file
where a good one was.
"""
import contextlib
import json
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to `path`; rename it onto `path` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp creates the file 0600; give it the mode open() would (0666 less the umask), so that a saved
        # model can be read by whoever may read the directory (the service account that serves it)
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _current_umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


def write_json(path, obj):
    """Write obj as indented UTF-8 JSON, atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, ensure_ascii=False, sort_keys=False)
            f.write("\n")


def read_json(path, error_class=ValueError):
    """Read a JSON file; a syntax error names the file, line and column."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise error_class(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except UnicodeDecodeError as exc:
        raise error_class(f"{path} is not UTF-8 text: {exc}") from None
    except RecursionError:
        raise error_class(f"{path} is nested too deeply to be a configuration or state file") from None


def user_path(value) -> Path:
    """Path(value) with a leading ~ or ~user expanded; left as written when that cannot be done (no such user,
    no home directory): it is then simply a path that does not exist, reported as such by the caller."""
    try:
        return Path(value).expanduser()
    except RuntimeError:
        return Path(value)
