"""Tokenize raw text into packed MindRecord samples, as MindFormers' preprocessing scripts do."""
import shutil
from pathlib import Path
from typing import Dict

import numpy as np

from .blocks import DatasetError, pack_documents
from .formats import JsonlFormat, TextFormat, MINDRECORD_SUFFIX
from ..fileio import user_path


def raw_files(source: Path):
    """The .txt/.jsonl files of a path (a file, or a directory's files in name order)."""
    if source.is_file():
        return [source]
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix in (".txt", ".jsonl", ".json"))
        if files:
            return files
        raise DatasetError(f"{source} has no .txt or .jsonl files")
    raise DatasetError(f"input {source} does not exist")


def prepare(source, out_dir, tokenizer, seq_length: int, on_bad_line: str = "fail",
            progress: bool = True) -> Dict[str, int]:
    """Write OUT_DIR/data.mindrecord with packed rows of seq_length + 1 tokens; returns a summary."""
    from mindspore.mindrecord import FileWriter
    from tqdm import tqdm

    source, out_dir = user_path(source), user_path(out_dir)
    if seq_length < 1:
        raise DatasetError(f"seq_length must be >= 1, got {seq_length}")
    files = raw_files(source)

    def documents():
        for file in files:
            handler = JsonlFormat() if file.suffix in (".jsonl", ".json") else TextFormat()
            yield from handler.documents(file, on_bad_line)

    stream = tqdm(documents(), desc="tokenizing", unit=" docs", disable=not progress)
    blocks, summary = pack_documents(stream, tokenizer, seq_length, str(source))
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"data{MINDRECORD_SUFFIX}"
    # write next to the target, then move into place, so a failed run leaves no half dataset
    scratch = out_dir / ".writing"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    writer = FileWriter(str(scratch / target.name), shard_num=1, overwrite=True)
    writer.add_schema({"input_ids": {"type": "int32", "shape": [-1]}}, "mf packed token samples")
    for start in range(0, len(blocks), 1000):
        writer.write_raw_data([{"input_ids": row} for row in blocks.input_ids[start:start + 1000]])
    writer.commit()
    for file in scratch.iterdir():
        file.replace(out_dir / file.name)
    scratch.rmdir()
    summary["files"] = len(files)
    summary["seq_length"] = seq_length
    return summary
