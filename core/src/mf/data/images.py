"""Labelled image datasets recognised from a path: a class-per-folder tree, IDX files (MNIST, Fashion-MNIST),
and JSONL lines {"image": path, "label": ...}.

Each format is a handler (kind "images") with detect(path) and read(path, on_bad_line) -> LabelledImages;
core registers them through mf_register_datasets, as plugins may register more. Images stay on disk (paths)
until a task decodes them, except IDX data, which is one array.
"""
import gzip
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import List, Sequence, Union

import numpy as np

from .blocks import DatasetError
from ..fileio import user_path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm")


@dataclass
class LabelledImages:
    """Images (file paths, or an array [N, H, W] / [N, H, W, C] of uint8) and their labels (ids or names)."""
    images: Union[List[str], np.ndarray]
    labels: Sequence
    source: str
    # label names in id order, when the format defines them (folder names); else the task decides
    label_names: Sequence[str] = ()

    def __post_init__(self):
        if len(self.images) != len(self.labels):
            raise DatasetError(f"{self.source}: {len(self.images)} images but {len(self.labels)} labels")
        if not len(self.images):
            raise DatasetError(f"{self.source} holds no labelled images")


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


class ImageFolderFormat:
    """root/<label>/<image files>: each sub-folder is a class (named by the folder), as torchvision's
    ImageFolder and Hugging Face's imagefolder read it."""

    name = "image_folder"
    kind = "images"

    def detect(self, path: Path) -> bool:
        return path.is_dir() and any(_is_image(f) for d in path.iterdir() if d.is_dir() for f in d.iterdir())

    def read(self, path: Path, on_bad_line: str = "fail") -> LabelledImages:
        classes = sorted(d.name for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
        images, labels = [], []
        for label in classes:
            for file in sorted((path / label).iterdir()):
                if _is_image(file):
                    images.append(str(file))
                    labels.append(label)
        return LabelledImages(images, labels, str(path), [c for c in classes if c in set(labels)])


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format: magic 0 0 <type> <dims>, big-endian sizes, then the data)."""
    types = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    try:
        with _open(path) as f:
            header = f.read(4)
            if len(header) < 4 or header[:2] != b"\0\0" or header[2] not in types:
                raise DatasetError(f"{path} is not an IDX file (bad magic number {header!r})")
            dims = struct.unpack(f">{header[3]}I", f.read(4 * header[3]))
            data = np.frombuffer(f.read(), dtype=types[header[2]])
    except (OSError, EOFError, struct.error, ValueError) as exc:  # ValueError: a partial last value
        raise DatasetError(f"{path} cannot be read as an IDX file: {exc}") from None
    expected = math.prod(dims)  # Python integers: four 32-bit sizes overflow int64
    if data.size != expected:
        state = "is truncated" if data.size < expected else "has data beyond what its header describes"
        raise DatasetError(f"{path} {state}: its header says {list(dims)} ({expected} values), it holds "
                           f"{data.size}")
    return data.reshape(dims)


class IdxFormat:
    """MNIST / Fashion-MNIST IDX files: the images file (`*-images-idx3-ubyte[.gz]`) with its labels file
    beside it (`*-labels-idx1-ubyte[.gz]`); a directory may be given when it holds one such pair."""

    name = "idx"
    kind = "images"

    @staticmethod
    def images_files(path: Path) -> List[Path]:
        if path.is_file():
            return [path] if "-images-idx" in path.name else []
        if path.is_dir():
            return sorted(p for p in path.iterdir() if "-images-idx" in p.name)
        return []

    def detect(self, path: Path) -> bool:
        return bool(self.images_files(path))

    def read(self, path: Path, on_bad_line: str = "fail") -> LabelledImages:
        files = self.images_files(path)
        if len(files) > 1:
            raise DatasetError(f"{path} holds several IDX image files ({', '.join(f.name for f in files)}); "
                               f"pass the one to use, e.g. {files[0]}")
        images_file = files[0]
        labels_file = images_file.with_name(images_file.name.replace("-images-idx3", "-labels-idx1"))
        if not labels_file.is_file():
            raise DatasetError(f"{images_file} has no labels file beside it (expected {labels_file.name})")
        images, labels = read_idx(images_file), read_idx(labels_file)
        if images.ndim not in (3, 4) or images.dtype != np.uint8:
            raise DatasetError(f"{images_file} holds {images.dtype} data of shape {images.shape}; expected uint8 "
                               f"images [N, H, W]")
        return LabelledImages(images, labels.astype(np.int64).tolist(), str(images_file))


def record_image(path: Path, number: int, image, on_bad_line: str, example: str):
    """The image file a JSONL record names (relative paths are relative to the file's folder), or None after
    reporting a missing or absent path (bad_line: fail, or warn when skipping)."""
    from ..tasks.reading import bad_line

    if not isinstance(image, str) or not image:
        bad_line(f'{path}:{number}: no "image" path; expected {example}', on_bad_line)
        return None
    file = user_path(image)
    file = file if file.is_absolute() else path.parent / file
    if not file.is_file():
        bad_line(f"{path}:{number}: image {file} does not exist", on_bad_line)
        return None
    return file


class ImageJsonlFormat:
    """JSONL lines {"image": path, "label": id or name}; relative paths are relative to the file's folder."""

    name = "image_jsonl"
    kind = "images"

    def detect(self, path: Path) -> bool:
        if not (path.is_file() and path.suffix in (".jsonl", ".json")):
            return False
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            first = next((line for line in f if line.strip()), "")
        return '"image"' in first

    def read(self, path: Path, on_bad_line: str = "fail") -> LabelledImages:
        from ..tasks.reading import bad_line, json_records

        images, labels = [], []
        for number, record in json_records(path, on_bad_line):
            label = record.get("label")
            file = record_image(path, number, record.get("image"), on_bad_line, '{"image": "cat.png", "label": ...}')
            if file is None:
                continue
            if label is None or isinstance(label, (bool, float, list, dict)) or (isinstance(label, int) and label < 0):
                bad_line(f"{path}:{number}: 'label' must be an id >= 0 or a label name, got {label!r}", on_bad_line)
                continue
            images.append(str(file))
            labels.append(label)
        return LabelledImages(images, labels, str(path))


IMAGE_FORMATS = (ImageFolderFormat(), IdxFormat(), ImageJsonlFormat())


def read_images(source, on_bad_line: str = "fail") -> Union[List[str], np.ndarray]:
    """Images without labels (pre-training): a folder of images, searched through its sub-folders (so a
    class-per-folder tree works too), IDX files, or JSONL lines {"image": path} (other fields ignored)."""
    from ..tasks.reading import json_records

    path = user_path(source)
    if not path.exists():
        raise DatasetError(f"dataset path {path} does not exist")
    if path.is_dir() and not IdxFormat().detect(path):
        images = sorted(str(f) for f in path.rglob("*") if _is_image(f))
        if not images:
            raise DatasetError(f"{path} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
        return images
    if IdxFormat().detect(path):
        return IdxFormat().read(path, on_bad_line).images
    if path.is_file() and path.suffix in (".jsonl", ".json"):
        images = []
        for number, record in json_records(path, on_bad_line):
            file = record_image(path, number, record.get("image"), on_bad_line, '{"image": "cat.png"}')
            if file is not None:
                images.append(str(file))
        if not images:
            raise DatasetError(f"{path} holds no images")
        return images
    raise DatasetError(f"cannot read images from {path}: expected a folder of images, IDX files or JSONL lines "
                       f'{{"image": path}}')


def read_labelled_images(source, on_bad_line: str = "fail") -> LabelledImages:
    """Read a path whose format a registered image handler recognises."""
    from ..plugins import get_registry

    path = user_path(source)
    if not path.exists():
        raise DatasetError(f"dataset path {path} does not exist")
    handlers = [(name, h) for name, h in get_registry().datasets.items() if getattr(h, "kind", "") == "images"]
    for _, handler in handlers:
        if handler.detect(path):
            return handler.read(path, on_bad_line)
    raise DatasetError(f"cannot tell the image format of {path}: expected a folder of class folders of images, "
                       f"IDX files (*-images-idx3-ubyte[.gz] with *-labels-idx1-ubyte[.gz]), or JSONL lines "
                       f'{{"image": path, "label": ...}}. Known image formats: {", ".join(n for n, _ in handlers)}')
