"""The masked_image_modeling task (MAE): hide a random part of each image's patches and reconstruct them.

    mae = pipeline("masked_image_modeling", model="mae_vit_base_p16")
    out = mae("cat.jpg", save_to="cat-mae.png")  # original | masked | reconstruction, side by side

Each result holds the reconstruction as a uint8 image array [H, W, C] (visible patches as given, hidden ones
as predicted), the masked input, the mask [rows, cols] (1 = hidden) and the loss. The model predicts
normalised pixels when it was trained with norm_pix_loss: the prediction is then rescaled with each hidden
patch's own mean and spread, as the MAE paper's figures do. mask_seed fixes the mask.
"""
from pathlib import Path

import numpy as np

from .base import Pipeline


def to_uint8(values: np.ndarray, processor) -> np.ndarray:
    """Normalised pixels [C, H, W] -> a uint8 image [H, W, C] (the processor's normalisation undone)."""
    mean = np.asarray(processor.image_mean, np.float32).reshape(-1, 1, 1) if processor.do_normalize else 0.0
    std = np.asarray(processor.image_std, np.float32).reshape(-1, 1, 1) if processor.do_normalize else 1.0
    scale = processor.rescale_factor if processor.do_rescale else 1.0
    pixels = (values * std + mean) / scale
    return np.clip(np.round(pixels), 0, 255).astype(np.uint8).transpose(1, 2, 0)


def side_by_side(images, gap: int = 4) -> np.ndarray:
    """uint8 [H, W, C] images in a row on white."""
    height = max(image.shape[0] for image in images)
    channels = images[0].shape[2]
    width = sum(image.shape[1] for image in images) + gap * (len(images) - 1)
    canvas = np.full((height, width, channels), 255, np.uint8)
    left = 0
    for image in images:
        canvas[:image.shape[0], left:left + image.shape[1]] = image
        left += image.shape[1] + gap
    return canvas


class MaskedImageModelingPipeline(Pipeline):
    task = "masked_image_modeling"
    reads = "images"
    unwrap_single = True

    def __init__(self, model, tokenizer=None, image_processor=None, **kwargs):
        super().__init__(model, tokenizer=None, **kwargs)
        self.image_processor = image_processor if image_processor is not None else tokenizer
        if self.image_processor is None:
            raise ValueError("MaskedImageModelingPipeline needs the model's image processor (image_processor=)")

    def run_batch(self, items, mask_seed=None, save_to=None):
        from mindspore import Tensor

        self.model.set_train(False)
        pixels = self.image_processor(items, return_tensors="np")["pixel_values"]
        patch = int(self.model.config.patch_size)
        rows, cols = pixels.shape[2] // patch, pixels.shape[3] // patch
        noise = np.random.default_rng(mask_seed).random((len(pixels), rows * cols)).astype(np.float32)
        loss, predicted, mask = self.model(Tensor(pixels), Tensor(noise))
        predicted, mask = predicted.asnumpy(), mask.asnumpy()
        target = _patchify(pixels, patch)
        if getattr(self.model.config, "norm_pix_loss", False):  # back from per-patch normalised pixels
            mean, std = target.mean(-1, keepdims=True), target.std(-1, ddof=1, keepdims=True)
            predicted = predicted * np.sqrt(std ** 2 + 1e-6) + mean
        hidden = mask[..., None].astype(bool)
        reconstruction = _unpatchify(np.where(hidden, predicted, target), patch, rows, cols)
        masked = _unpatchify(np.where(hidden, np.nan, target), patch, rows, cols)
        results = []
        for i in range(len(pixels)):
            original = to_uint8(pixels[i][:, :rows * patch, :cols * patch], self.image_processor)
            shown = to_uint8(np.nan_to_num(masked[i], nan=0.0), self.image_processor)
            shown[np.isnan(masked[i]).transpose(1, 2, 0).any(-1)] = 128  # hidden patches grey
            result = {"reconstruction": to_uint8(reconstruction[i], self.image_processor), "masked": shown,
                      "original": original, "mask": mask[i].reshape(rows, cols), "loss": float(loss.asnumpy())}
            if save_to is not None:
                result["saved"] = str(self._save(result, save_to, i, len(pixels)))
            results.append(result)
        return results

    @staticmethod
    def _save(result, save_to, index, count):
        """original | masked | reconstruction as one PNG (numbered when several images are saved)."""
        from PIL import Image

        path = Path(save_to)
        if count > 1:
            path = path.with_name(f"{path.stem}-{index}{path.suffix or '.png'}")
        path.parent.mkdir(parents=True, exist_ok=True)
        row = side_by_side([result["original"], result["masked"], result["reconstruction"]])
        Image.fromarray(row.squeeze(-1) if row.shape[2] == 1 else row).save(path)
        return path


def _patchify(pixels: np.ndarray, patch: int) -> np.ndarray:
    """[B, C, H, W] -> [B, patches, p * p * C] (MAE's order: rows of each patch, channels last)."""
    batch, channels, height, width = pixels.shape
    rows, cols = height // patch, width // patch
    x = pixels[:, :, :rows * patch, :cols * patch].reshape(batch, channels, rows, patch, cols, patch)
    return x.transpose(0, 2, 4, 3, 5, 1).reshape(batch, rows * cols, patch * patch * channels)


def _unpatchify(patches: np.ndarray, patch: int, rows: int, cols: int) -> np.ndarray:
    batch = patches.shape[0]
    channels = patches.shape[2] // (patch * patch)
    x = patches.reshape(batch, rows, cols, patch, patch, channels)
    return x.transpose(0, 5, 1, 3, 2, 4).reshape(batch, channels, rows * patch, cols * patch)
