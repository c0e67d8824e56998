"""ImageProcessor: images in, normalised pixel_values [B, C, H, W] out, as Hugging Face's image processors.

It reads and writes `preprocessor_config.json` with Hugging Face's field names, so a ViT, Swin, DINOv2 or
CLIP checkpoint's own settings apply unchanged, and does what their PIL backend does, step by step:
convert to RGB (transparency composited on white), resize with the named Pillow filter (to a fixed
height/width, or the shortest edge to a length keeping the aspect ratio), centre crop (padding with zeros
when the image is smaller), rescale (x 1/255 in float64, then float32), normalise ((x - mean) / std per
channel). Inputs: file paths, PIL images, arrays (H, W[, C]) or (C, H, W), uint8 or float in [0, 1],
one or a list.
"""
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from .errors import ImageError
from .fileio import read_json, write_json
from .fileio import user_path

IMAGE_PROCESSOR_CONFIG_NAME = "preprocessor_config.json"
IMAGENET_DEFAULT_MEAN = (0.485, 0.456, 0.406)
IMAGENET_DEFAULT_STD = (0.229, 0.224, 0.225)
IMAGENET_STANDARD_MEAN = (0.5, 0.5, 0.5)
IMAGENET_STANDARD_STD = (0.5, 0.5, 0.5)
# Pillow's filter numbers, the values Hugging Face's configs store as "resample"
RESAMPLE = {"nearest": 0, "lanczos": 1, "bilinear": 2, "bicubic": 3, "box": 4, "hamming": 5}


def load_image(image):
    """A PIL image, or an array as it was given, from a path, a PIL image or an array; bad input is an ImageError."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(image, (str, Path)):
        path = user_path(image)
        if not path.is_file():
            raise ImageError(f"image {path} does not exist")
        try:
            with Image.open(path) as opened:
                opened.load()
                return opened.copy()
        except (UnidentifiedImageError, OSError) as exc:
            raise ImageError(f"{path} is not an image Pillow can read ({exc}); pass a PNG, JPEG, ... file") from None
    if isinstance(image, Image.Image):
        return image
    if hasattr(image, "asnumpy"):  # a MindSpore Tensor
        image = image.asnumpy()
    if isinstance(image, np.ndarray):
        if image.ndim not in (2, 3) or image.size == 0:
            raise ImageError(f"an image array must be (H, W), (H, W, C) or (C, H, W), got shape {image.shape}")
        return image
    raise ImageError(f"expected an image path, a PIL image or an array, got {type(image).__name__}")


def _channels_last(array: np.ndarray) -> np.ndarray:
    """(H, W, C) from (H, W), (H, W, C) or (C, H, W) with 1, 3 or 4 channels."""
    if array.ndim == 2:
        return array[:, :, None]
    if array.shape[-1] in (1, 3, 4):
        return array
    if array.shape[0] in (1, 3, 4):
        return np.moveaxis(array, 0, -1)
    raise ImageError(f"cannot tell the channel axis of an image of shape {array.shape}; give (H, W, C) or (C, H, W) "
                     f"with 1, 3 or 4 channels")


def to_pil(image):
    """A PIL image from a loaded image: float arrays in [0, 1] are scaled to 0..255 as Hugging Face does."""
    from PIL import Image

    if isinstance(image, Image.Image):
        return image
    array = _channels_last(image)
    if np.issubdtype(array.dtype, np.floating):
        if array.min() < 0 or array.max() > 1:
            raise ImageError("a float image array must hold values in [0, 1]; pass uint8 0..255 for other ranges")
        array = (array.astype(np.float64) * 255).astype(np.float32)
    array = array.astype(np.uint8)
    return Image.fromarray(array[:, :, 0] if array.shape[-1] == 1 else array)


def to_rgb(image):
    """RGB, with any transparency composited onto white (as Hugging Face's convert_to_rgb)."""
    from PIL import Image

    image = to_pil(image)
    if "A" in image.getbands() or image.info.get("transparency") is not None:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    return image.convert("RGB")


def _size(value, name) -> Dict[str, int]:
    if isinstance(value, int):
        return {"height": value, "width": value}
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return {"height": int(value[0]), "width": int(value[1])}
    if isinstance(value, dict) and ({"height", "width"} <= set(value) or "shortest_edge" in value):
        return {key: int(v) for key, v in value.items() if v is not None}
    raise ImageError(f"{name} must be an int, (height, width), {{'height', 'width'}} or {{'shortest_edge'}}, "
                     f"got {value!r}")


def resized_shape(height: int, width: int, size: Dict[str, int]):
    """(height, width) after resizing to `size`: fixed, or the shortest edge to a length (the long edge scaled,
    rounded down)."""
    if "shortest_edge" in size:
        short, long = sorted((height, width))
        new_short, new_long = size["shortest_edge"], int(size["shortest_edge"] * long / short)
        return (new_short, new_long) if height <= width else (new_long, new_short)
    return size["height"], size["width"]


def center_crop(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """The centre (height, width) of a (C, H, W) array, padded with zeros around it when smaller."""
    _, old_height, old_width = array.shape
    if old_height < height or old_width < width:
        padded = np.zeros((array.shape[0], max(height, old_height), max(width, old_width)), array.dtype)
        top, left = -(-(padded.shape[1] - old_height) // 2), -(-(padded.shape[2] - old_width) // 2)
        padded[:, top:top + old_height, left:left + old_width] = array
        array = padded
        old_height, old_width = array.shape[1:]
    top, left = (old_height - height) // 2, (old_width - width) // 2
    return array[:, top:top + height, left:left + width]


class ImageProcessor:
    """Hugging Face-compatible image preprocessing (see the module docstring); `processor(images)` gives
    {"pixel_values": Tensor [B, C, H, W] float32}."""

    image_processor_type = "ImageProcessor"

    def __init__(self, do_resize: bool = True, size=None, resample=RESAMPLE["bilinear"], do_center_crop: bool = False,
                 crop_size=None, do_rescale: bool = True, rescale_factor: float = 1 / 255, do_normalize: bool = True,
                 image_mean=IMAGENET_STANDARD_MEAN, image_std=IMAGENET_STANDARD_STD, do_convert_rgb: bool = True,
                 num_channels: Optional[int] = None, return_tensors: str = "ms", **unused: Any):
        self.do_resize = do_resize
        self.size = _size(size if size is not None else 224, "size")
        self.resample = RESAMPLE.get(resample, resample) if isinstance(resample, str) else resample
        if self.resample not in RESAMPLE.values():
            raise ImageError(f"resample must be one of {sorted(RESAMPLE)} or Pillow's numbers 0-5, got {resample!r}")
        self.do_center_crop = do_center_crop
        self.crop_size = _size(crop_size if crop_size is not None else self.size.get("height", 224), "crop_size")
        self.do_rescale = do_rescale
        self.rescale_factor = rescale_factor
        self.do_normalize = do_normalize
        self.image_mean = [float(v) for v in np.atleast_1d(image_mean)]
        self.image_std = [float(v) for v in np.atleast_1d(image_std)]
        if any(v == 0 for v in self.image_std):
            raise ImageError(f"image_std must not hold zeros, got {self.image_std}")
        # grey-scale models (e.g. trained on Fashion-MNIST) take one channel: convert to "L" instead of RGB
        self.num_channels = num_channels
        self.do_convert_rgb = do_convert_rgb is not False and num_channels != 1  # null in a config: convert
        self.return_tensors = return_tensors

    # ---- one image ------------------------------------------------------------------
    def channels_first(self, image) -> np.ndarray:
        """A loaded image as (C, H, W) in its own dtype, converted to RGB (or grey) as configured."""
        if self.num_channels == 1:
            return np.asarray(to_pil(image).convert("L"))[None]
        if self.do_convert_rgb:
            return np.moveaxis(np.asarray(to_rgb(image)), -1, 0)
        if not isinstance(image, np.ndarray):
            image = np.asarray(image)
        return np.moveaxis(_channels_last(image), -1, 0)

    def resize(self, array: np.ndarray, height: int, width: int) -> np.ndarray:
        """(C, H, W) resized with Pillow's filter, in the array's own dtype (uint8 stays uint8)."""
        from PIL import Image

        channels = np.moveaxis(array, 0, -1)
        rescale = np.issubdtype(channels.dtype, np.floating)
        pil = to_pil(channels) if channels.shape[-1] in (1, 3, 4) else None
        if pil is None:
            raise ImageError(f"cannot resize an image with {channels.shape[-1]} channels")
        out = np.asarray(pil.resize((width, height), resample=Image.Resampling(self.resample)))
        if out.ndim == 2:
            out = out[:, :, None]
        out = np.moveaxis(out, -1, 0)
        return out.astype(np.float32) / 255 if rescale else out

    def preprocess_one(self, image) -> np.ndarray:
        """One image -> float32 (C, H, W), through every configured step."""
        array = self.channels_first(load_image(image))
        if self.do_resize:
            array = self.resize(array, *resized_shape(array.shape[1], array.shape[2], self.size))
        if self.do_center_crop:
            array = center_crop(array, self.crop_size["height"], self.crop_size["width"])
        return self.rescale_and_normalize(array)

    def rescale_and_normalize(self, array: np.ndarray) -> np.ndarray:
        """(C, H, W) pixels -> the float32 values the model takes."""
        if self.do_rescale:
            array = (array.astype(np.float64) * self.rescale_factor).astype(np.float32)
        array = array.astype(np.float32)
        if self.do_normalize:
            channels = array.shape[0]
            mean, std = (np.asarray(v * channels if len(v) == 1 else v, np.float32)
                         for v in (self.image_mean, self.image_std))
            if len(mean) != channels or len(std) != channels:
                raise ImageError(f"image_mean/image_std have {len(mean)}/{len(std)} values for a {channels}-channel "
                                 f"image; give one per channel")
            array = (array - mean[:, None, None]) / std[:, None, None]
        return array

    # ---- the public call -----------------------------------------------------------------
    def __call__(self, images=None, return_tensors: Optional[str] = None, image_input=None, **unused):
        images = images if images is not None else image_input  # image_input: MindFormers' processors' name
        if images is None:
            raise ImageError(f"{type(self).__name__} needs images (paths, PIL images or arrays)")
        batched = isinstance(images, (list, tuple)) or (isinstance(images, np.ndarray) and images.ndim == 4)
        items = list(images) if batched else [images]
        if not items:
            raise ImageError(f"{type(self).__name__} got an empty list of images")
        pixels = np.stack([self.preprocess_one(item) for item in items])
        kind = return_tensors or self.return_tensors
        if kind == "ms":
            from mindspore import Tensor

            return {"pixel_values": Tensor(pixels)}
        if kind in ("np", None):
            return {"pixel_values": pixels}
        raise ImageError(f"return_tensors must be 'ms' or 'np', got {kind!r}")

    preprocess = __call__

    # ---- configuration files --------------------------------------------------------------
    def to_dict(self) -> Dict[str, Any]:
        config = {"image_processor_type": self.image_processor_type, "do_resize": self.do_resize,
                  "size": self.size, "resample": self.resample, "do_center_crop": self.do_center_crop,
                  "crop_size": self.crop_size, "do_rescale": self.do_rescale, "rescale_factor": self.rescale_factor,
                  "do_normalize": self.do_normalize, "image_mean": self.image_mean, "image_std": self.image_std,
                  "do_convert_rgb": self.do_convert_rgb}
        if self.num_channels is not None:
            config["num_channels"] = self.num_channels
        return config

    def save_pretrained(self, save_directory):
        directory = Path(save_directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_json(directory / IMAGE_PROCESSOR_CONFIG_NAME, self.to_dict())

    @classmethod
    def from_dict(cls, config: Dict[str, Any], **overrides):
        options = {**config, **overrides}
        options.pop("image_processor_type", None)
        options.pop("processor_class", None)
        return cls(**options)

    @classmethod
    def from_pretrained(cls, name_or_path, **overrides):
        """From a directory's preprocessor_config.json, or a preset's processor settings."""
        from .resolve import locate

        location = locate(name_or_path)
        if location.directory is not None and (location.directory / IMAGE_PROCESSOR_CONFIG_NAME).is_file():
            return cls.from_dict(read_json(location.directory / IMAGE_PROCESSOR_CONFIG_NAME, ImageError), **overrides)
        if location.preset is not None:
            return cls.from_dict(dict(location.preset.processor or {}), **overrides)
        raise ImageError(f"{name_or_path} has no {IMAGE_PROCESSOR_CONFIG_NAME}; pass the image settings "
                         f"(size, image_mean, image_std, ...) to ImageProcessor(...)")

    def __repr__(self):
        return f"{type(self).__name__}({self.to_dict()})"
