"""Reading task data files line by line, with mf's bad-line policy (fail with the line, or skip)."""
import json
import warnings
from pathlib import Path

import numpy as np

from ..data.blocks import DatasetError
from ..fileio import user_path


def existing_file(source, formats: str) -> Path:
    path = user_path(source)
    if not path.is_file():
        raise DatasetError(f"{path} does not exist" if not path.exists() else
                           f"{path} is a directory; this task reads a file ({formats})")
    return path


def json_records(path: Path, on_bad_line: str = "fail"):
    """(line number, object) of a JSONL file, or of a JSON file holding a list."""
    text = path.read_text(encoding="utf-8-sig")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            records = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
        yield from enumerate(records, start=1)
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError(f"expected a JSON object, got {type(record).__name__}")
        except ValueError as exc:
            bad_line(f"{path}:{number}: not a JSON object ({exc})", on_bad_line)
            continue
        yield number, record


def bad_line(problem: str, on_bad_line: str):
    """Fail on a bad record, or warn and go on when the user asked to skip them."""
    if on_bad_line == "skip":
        warnings.warn(f"skipping {problem}")
        return
    raise DatasetError(f"{problem} (to skip such records: on_bad_line='skip', or --on_bad_line skip)")


def token_rows(path: Path, tokenizer, separator_id: int, width: int, on_bad_line: str = "fail") -> np.ndarray:
    """Text documents (.txt, blank-line separated, or JSONL {"text"}) tokenized, joined with separator_id
    after each, and cut into rows of `width` tokens (the tail that fills no row is dropped): [rows, width]."""
    from ..data.formats import JsonlFormat, TextFormat

    reader = JsonlFormat() if path.suffix in (".jsonl", ".json") else TextFormat()
    stream = []
    for text in reader.documents(path, on_bad_line):
        stream.extend(tokenizer(text, add_special_tokens=False)["input_ids"])
        stream.append(separator_id)
    rows = len(stream) // width
    if rows == 0:
        raise DatasetError(f"{path} has {len(stream)} tokens, fewer than one row of {width}; use a smaller "
                           f"seq_length or more text")
    return np.asarray(stream[:rows * width], np.int32).reshape(rows, width)
