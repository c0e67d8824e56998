"""Datasets: packed token blocks read from MindRecord, JSONL or text, or a mindspore.dataset object."""
from ..fileio import user_path
from .blocks import DatasetError, TokenBlocks, pack_documents


def load_dataset(source, tokenizer=None, seq_length=None, on_bad_line="fail", **options) -> TokenBlocks:
    """Read a path whose format a registered handler recognises. options (passed on when not None): columns
    (prompt and response fields) and max_response_length, for JSONL prompt/response pairs."""
    options = {name: value for name, value in options.items() if value is not None}
    from ..plugins import get_registry

    path = user_path(source)
    if not path.exists():
        raise DatasetError(f"dataset path {path} does not exist")
    handlers = [(name, h) for name, h in get_registry().datasets.items()
                if getattr(h, "kind", "tokens") == "tokens"]  # image formats are read by image tasks
    for name, handler in handlers:
        if handler.detect(path):
            return handler.load(path, tokenizer=tokenizer, seq_length=seq_length, on_bad_line=on_bad_line,
                                **options)
    raise DatasetError(f"cannot tell the format of {path}: expected a MindRecord directory (from `mf data "
                       f"prepare`), a .jsonl file with {{\"text\": ...}} lines, or a .txt file. Known formats: "
                       f"{', '.join(name for name, _ in handlers)}")


__all__ = ["DatasetError", "TokenBlocks", "load_dataset", "pack_documents"]
