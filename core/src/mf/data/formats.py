"""Dataset formats recognised from a path: MindRecord directories, JSONL and plain text.

Each format is a handler with detect(path) and load(path, tokenizer, seq_length, on_bad_line);
core registers these through mf_register_datasets, and plugins may add more.
"""
import json
import warnings
from pathlib import Path

import numpy as np

from .blocks import DatasetError, TokenBlocks, pack_documents

MINDRECORD_SUFFIX = ".mindrecord"


class MindRecordFormat:
    """A directory (or file) of MindRecord files with an input_ids column, as `mf data prepare` writes.

    The samples' length is the data's own (seq_length is only used to pack raw text)."""

    name = "mindrecord"

    @staticmethod
    def files(path: Path):
        if path.is_file() and path.suffix == MINDRECORD_SUFFIX:
            return [path]
        if path.is_dir():
            return sorted(p for p in path.iterdir() if p.suffix == MINDRECORD_SUFFIX)
        return []

    def detect(self, path: Path) -> bool:
        return bool(self.files(path))

    def load(self, path: Path, tokenizer=None, seq_length=None, on_bad_line="fail"):
        from mindspore.mindrecord import FileReader

        rows, masks = [], []
        for file in self.files(path):
            try:
                reader = FileReader(str(file))
                for item in reader.get_next():
                    rows.append(np.asarray(item["input_ids"], dtype=np.int32))
                    if "attention_mask" in item:
                        masks.append(np.asarray(item["attention_mask"], dtype=np.int32))
                reader.close()
            except KeyError:
                raise DatasetError(f"{file} has no 'input_ids' column") from None
            except Exception as exc:
                raise DatasetError(f"{file} is not a readable MindRecord file: {exc}") from None
        if not rows:
            raise DatasetError(f"{path} holds no samples")
        if len({len(r) for r in rows}) > 1:
            raise DatasetError(f"{path}: samples have different lengths; re-run `mf data prepare`")
        return TokenBlocks(np.stack(rows), np.stack(masks) if masks else None, source=str(path))


class JsonlFormat:
    """One JSON object per line with a "text" field."""

    name = "jsonl"

    def detect(self, path: Path) -> bool:
        return path.is_file() and path.suffix in (".jsonl", ".json")

    def documents(self, path: Path, on_bad_line="fail"):
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    text = record["text"]
                    if not isinstance(text, str):
                        raise TypeError(f"'text' is {type(text).__name__}, not a string")
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    problem = f"{path}:{number}: {_describe(exc)}"
                    if on_bad_line == "skip":
                        warnings.warn(f"skipping {problem}")
                        continue
                    raise DatasetError(f"{problem} (to skip such lines: on_bad_line='skip', or --on-bad-line skip)") from None
                yield text

    def load(self, path: Path, tokenizer=None, seq_length=None, on_bad_line="fail"):
        _need(tokenizer, seq_length, path)
        return pack_documents(self.documents(path, on_bad_line), tokenizer, seq_length, str(path))[0]


class TextFormat:
    """Plain UTF-8 text; blank-line separated paragraphs are documents."""

    name = "text"

    def detect(self, path: Path) -> bool:
        return path.is_file() and path.suffix in (".txt", ".text", "")

    def documents(self, path: Path, on_bad_line="fail"):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise DatasetError(f"{path} is not UTF-8 text: {exc}") from None
        text = text.lstrip("\ufeff").replace("\r\n", "\n")
        return [paragraph for paragraph in text.split("\n\n") if paragraph.strip()]

    def load(self, path: Path, tokenizer=None, seq_length=None, on_bad_line="fail"):
        _need(tokenizer, seq_length, path)
        return pack_documents(self.documents(path), tokenizer, seq_length, str(path))[0]


def _need(tokenizer, seq_length, path):
    if tokenizer is None or seq_length is None:
        raise DatasetError(f"{path} is raw text: reading it needs a tokenizer and a seq_length")


def _describe(exc):
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON ({exc.msg} at column {exc.colno})"
    if isinstance(exc, KeyError):
        return "no \"text\" field"
    return str(exc)
