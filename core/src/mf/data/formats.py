"""Dataset formats recognised from a path: MindRecord directories, JSONL and plain text.

Each format is a handler with detect(path) and load(path, tokenizer, seq_length, on_bad_line);
core registers these through mf_register_datasets, and plugins may add more.
"""
import json
import warnings
from pathlib import Path

import numpy as np

from .blocks import DatasetError, TokenBlocks, pack_documents
from .prompt_response import find_columns, prompt_response_rows, record_pair

MINDRECORD_SUFFIX = ".mindrecord"
# Characters a text file is read in at a time
READ_BLOCK = 1 << 20


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
    """One JSON object per line with a "text" field (documents, packed), or with a prompt and a response
    (prompt/response rows, see prompt_response.py; the fields as `columns` names them, or a known pair)."""

    name = "jsonl"

    def detect(self, path: Path) -> bool:
        return path.is_file() and path.suffix in (".jsonl", ".json")

    def records(self, path: Path, on_bad_line="fail"):
        """(line number, record) of every JSON object line. Each line is decoded on its own (a UTF-8 byte-order mark
        at the start of the file is dropped), so a line that is not UTF-8, not JSON, nested too deeply or holding a
        lone surrogate escape is one bad line: reported with its number, or skipped with on_bad_line='skip'."""
        with open(path, "rb") as f:
            for number, raw in enumerate(f, start=1):
                try:
                    line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError as exc:
                    _bad(f"{path}:{number}: not UTF-8 (byte {raw[exc.start]:#04x} at byte {exc.start} of the line); "
                         f"convert the file to UTF-8", on_bad_line)
                    continue
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    if not isinstance(record, dict):
                        raise TypeError(f"a line must be a JSON object, not {type(record).__name__}")
                    if "\\u" in line:
                        _check_encodable(record)
                except (json.JSONDecodeError, TypeError, UnicodeEncodeError) as exc:
                    _bad(f"{path}:{number}: {_describe(exc)}", on_bad_line)
                    continue
                except RecursionError:
                    _bad(f"{path}:{number}: JSON nested too deeply", on_bad_line)
                    continue
                yield number, record

    def pair_columns(self, path: Path, columns=None):
        """The (prompt, response) fields of the file's records, or None for {"text": ...} documents."""
        for _, record in self.records(path, on_bad_line="skip_quietly"):
            if columns is None and "text" in record:
                return None
            found = find_columns(record, columns)
            if found is None and columns:
                raise DatasetError(f"{path}: records have no '{columns[0]}' and '{columns[1]}' fields (the "
                                   f"prompt_column / response_column asked for); their fields: {sorted(record)}")
            return found
        return None

    def pairs(self, path: Path, columns, on_bad_line="fail"):
        for number, record in self.records(path, on_bad_line):
            try:
                if find_columns(record, columns) is None:
                    raise KeyError(columns)
                yield record_pair(record, columns)
            except (KeyError, TypeError) as exc:
                problem = f"no '{columns[0]}' / '{columns[1]}' fields" if isinstance(exc, KeyError) else str(exc)
                _bad(f"{path}:{number}: {problem}", on_bad_line)

    def documents(self, path: Path, on_bad_line="fail"):
        for number, record in self.records(path, on_bad_line):
            text = record.get("text")
            if not isinstance(text, str):
                problem = _describe(KeyError("text")) if "text" not in record else \
                    f"'text' is {type(text).__name__}, not a string"
                _bad(f"{path}:{number}: {problem}", on_bad_line)
                continue
            yield text

    def load(self, path: Path, tokenizer=None, seq_length=None, on_bad_line="fail", columns=None,
             max_response_length=None):
        _need(tokenizer, seq_length, path)
        found = self.pair_columns(path, columns)
        if found is not None:
            pairs = list(self.pairs(path, found, on_bad_line))
            if not pairs:
                raise DatasetError(f"{path} has no prompt/response pairs")
            return prompt_response_rows(pairs, tokenizer, seq_length, str(path), max_response_length)
        return pack_documents(self.documents(path, on_bad_line), tokenizer, seq_length, str(path))[0]


def _bad(problem, on_bad_line):
    if on_bad_line == "skip_quietly":
        return
    if on_bad_line == "skip":
        warnings.warn(f"skipping {problem}")
        return
    raise DatasetError(f"{problem} (to skip such lines: on_bad_line='skip', or --on-bad-line skip)")


class TextFormat:
    """Plain UTF-8 text; blank-line separated paragraphs are documents."""

    name = "text"

    def detect(self, path: Path) -> bool:
        return path.is_file() and path.suffix in (".txt", ".text", "")

    def documents(self, path: Path, on_bad_line="fail"):
        """The paragraphs (split at blank lines, "\\n\\n", after \\r\\n became \\n), read in blocks: a file of any size
        streams through. Splitting what has been read so far and holding back its last part gives the
        paragraphs one split of the whole text would."""
        held, carry, first = "", "", True
        try:
            with open(path, encoding="utf-8", newline="") as f:
                while True:
                    block = f.read(READ_BLOCK)
                    end = not block
                    if first:
                        block, first = block.lstrip("\ufeff"), False
                    block, carry = carry + block, ""
                    if not end and block.endswith("\r"):
                        block, carry = block[:-1], "\r"  # with the next block's \n it is one \r\n
                    held += block.replace("\r\n", "\n")
                    parts = held.split("\n\n")
                    held = "" if end else parts.pop()
                    yield from (part for part in parts if part.strip())
                    if end:
                        return
        except UnicodeDecodeError as exc:
            raise DatasetError(f"{path} is not UTF-8 text: {exc}; convert the file to UTF-8") from None

    def load(self, path: Path, tokenizer=None, seq_length=None, on_bad_line="fail"):
        _need(tokenizer, seq_length, path)
        return pack_documents(self.documents(path), tokenizer, seq_length, str(path))[0]


def _need(tokenizer, seq_length, path):
    if tokenizer is None or seq_length is None:
        raise DatasetError(f"{path} is raw text: reading it needs a tokenizer and a seq_length")


def _check_encodable(value):
    """Raise UnicodeEncodeError for a string holding a lone surrogate (a \\ud800 escape with no partner): no
    tokenizer can encode it."""
    if isinstance(value, str):
        value.encode("utf-8")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_encodable(key)
            _check_encodable(item)
    elif isinstance(value, list):
        for item in value:
            _check_encodable(item)


def _describe(exc):
    if isinstance(exc, UnicodeEncodeError):
        return "a string holds a lone surrogate escape (\\ud800-\\udfff without its pair), which is not text"
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON ({exc.msg} at column {exc.colno})"
    if isinstance(exc, KeyError):
        return "no \"text\" field (or a prompt and a response: {\"prompt\", \"response\"} and the like)"
    return str(exc)
