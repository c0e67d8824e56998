"""image_classification: labelled images (a class-per-folder tree, IDX files, JSONL {"image", "label"}) -> a
label per image. Metrics: accuracy and top-5 accuracy.

Every image is decoded once, converted and resized (and centre-cropped) by the model's image processor and
kept as uint8 [C, H, W]; each training batch is then augmented as torchvision's RandomResizedCrop and
RandomHorizontalFlip do (crop boxes and flips drawn from the Trainer's seeded generator, so a resumed run
sees the same batches; the crops resized with mindspore.dataset.vision), then rescaled and normalised.
Evaluation takes the images as processed, without augmentation.
"""
import math

import numpy as np

from ..data.blocks import DatasetError
from ..metrics import accuracy
from .objective import Examples, Objective, label_vocabulary

# torchvision's RandomResizedCrop defaults
CROP_SCALE = (0.08, 1.0)
CROP_RATIO = (3 / 4, 4 / 3)


def top_k_accuracy(logits: np.ndarray, labels, k: int = 5) -> float:
    """The share of examples whose label is among the k highest logits."""
    labels = np.asarray(labels)
    k = min(k, logits.shape[-1])
    best = np.argsort(-logits, axis=-1)[:, :k]
    return float((best == labels[:, None]).any(-1).mean()) if len(labels) else 0.0


def crop_box(rng: np.random.Generator, height: int, width: int, scale=CROP_SCALE, ratio=CROP_RATIO):
    """(top, left, crop height, crop width) as torchvision's RandomResizedCrop.get_params draws them: an area
    share in `scale` and an aspect ratio (log-uniform) in `ratio`, ten tries, else the largest centred box of an
    allowed ratio."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_ratio))
        w, h = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
    in_ratio = width / height
    if in_ratio < ratio[0]:
        w, h = width, int(round(width / ratio[0]))
    elif in_ratio > ratio[1]:
        h, w = height, int(round(height * ratio[1]))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def augment(pixels: np.ndarray, rng: np.random.Generator, scale=CROP_SCALE, flip: bool = True) -> np.ndarray:
    """uint8 [B, C, H, W] -> the same shape, each image randomly cropped, resized back and maybe flipped."""
    from mindspore.dataset import vision

    out = np.empty_like(pixels)
    height, width = pixels.shape[2:]
    crop = tuple(scale) != (1.0, 1.0)  # scale [1, 1] turns cropping off (torchvision would still fix the ratio)
    for i, image in enumerate(pixels):
        top, left, h, w = crop_box(rng, height, width, scale) if crop else (0, 0, height, width)
        hwc = np.ascontiguousarray(image.transpose(1, 2, 0))
        if (h, w) != (height, width):
            hwc = vision.ResizedCrop(top, left, h, w, (height, width), vision.Inter.BILINEAR)(hwc)
            hwc = hwc.reshape(height, width, -1)
        if flip and rng.random() < 0.5:
            hwc = hwc[:, ::-1]
        out[i] = hwc.transpose(2, 0, 1)
    return out


def processed_images(processor, images, source) -> np.ndarray:
    """Images (paths, or an IDX array) decoded, converted, resized and centre-cropped by the processor, kept as
    uint8 [N, C, H, W] (rescaling and normalising happen per batch, after augmentation)."""
    from ..image_processing import center_crop, load_image, resized_shape

    pixels = []
    for image in images:
        array = processor.channels_first(load_image(image))
        if processor.do_resize:
            array = processor.resize(array, *resized_shape(array.shape[1], array.shape[2], processor.size))
        if processor.do_center_crop:
            array = center_crop(array, processor.crop_size["height"], processor.crop_size["width"])
        if pixels and array.shape != pixels[0].shape:
            raise DatasetError(f"{source}: images come out of the processor in different sizes "
                               f"({pixels[0].shape} and {array.shape}); give the processor a fixed size "
                               f"or a centre crop")
        pixels.append(array.astype(np.uint8))
    return np.stack(pixels)


def normalized(pixels: np.ndarray, processor) -> np.ndarray:
    """uint8 [B, C, H, W] -> the model's float pixel values (the processor's rescale and normalisation)."""
    return np.stack([processor.rescale_and_normalize(image) for image in pixels])


class ImageClassification(Objective):
    role = "image_classification"
    label_names = ("labels",)
    reads = "images"
    formats = ('a folder of class folders of images, IDX files (*-images-idx3-ubyte[.gz] beside '
               '*-labels-idx1-ubyte[.gz]), or JSONL lines {"image": path, "label": ...}')

    def read(self, source, processor, seq_length=None, config=None, on_bad_line="fail") -> Examples:
        from ..data.images import read_labelled_images
        from ..image_processing import ImageProcessor

        if not isinstance(processor, ImageProcessor):
            raise DatasetError(f"image_classification reads images: it needs the model's image processor, got "
                               f"{type(processor).__name__}")
        data = read_labelled_images(source, on_bad_line)
        names = label_vocabulary(set(data.labels), config)  # folder names sort as ImageFolder's classes
        ids = [label if isinstance(label, int) else names.index(str(label)) for label in data.labels]
        arrays = {"pixel_values": processed_images(processor, data.images, data.source),
                  "labels": np.asarray(ids, np.int32)}
        return Examples(arrays, data.source, {"label_names": names, "processor": processor})

    def collate(self, batch, rng, examples, training=False):
        pixels = batch["pixel_values"]
        if training:
            scale = tuple(float(v) for v in self._option("random_resized_crop_scale", CROP_SCALE))
            pixels = augment(pixels, rng, scale, self._option("random_flip", True))
        return {**batch, "pixel_values": normalized(pixels, examples.info["processor"])}

    def model_arrays(self, batch):
        return [batch["pixel_values"].astype(np.float32), batch["labels"].astype(np.int32)]

    def metrics(self, outputs, examples):
        logits = outputs[0]
        actual = examples.arrays["labels"]
        return {"accuracy": accuracy(logits.argmax(-1).tolist(), actual.tolist()),
                "top5_accuracy": top_k_accuracy(logits, actual, 5)}
