"""masked_image_modeling (MAE pre-training): images without labels -> the model reconstructs the patches it
was not shown. Data: a folder of images (sub-folders searched), IDX files or JSONL lines {"image": path}.

Images are decoded once and kept as uint8 [C, H, W]; training batches are augmented as MAE's pre-training
recipe does (random resized crop with scale 0.2-1 and horizontal flips, unless TrainingArguments say
otherwise). Each batch also carries the noise that decides which patches are hidden, drawn from the
Trainer's seeded generator, so a run (and a resumed run) is reproducible and data-parallel ranks split
one global batch's masks. Evaluation reports the reconstruction loss on fixed masks (the same in every
evaluation).
"""
import numpy as np

from ..data.blocks import DatasetError
from .image_classification import augment, normalized, processed_images
from .objective import Examples, Objective

# MAE's pre-training crop (He et al. 2022, appendix A.1)
MAE_CROP_SCALE = (0.2, 1.0)


class MaskedImageModelling(Objective):
    role = "masked_image_modeling"
    label_names = ()
    reads = "images"
    pad_last_batch = False  # no labels to mark padded rows: the last batch runs at its own size
    formats = 'a folder of images (or of class folders), IDX files, or JSONL lines {"image": path}'

    def read(self, source, processor, seq_length=None, config=None, on_bad_line="fail") -> Examples:
        from ..data.images import read_images
        from ..image_processing import ImageProcessor

        if not isinstance(processor, ImageProcessor):
            raise DatasetError(f"masked_image_modeling reads images: it needs the model's image processor, got "
                               f"{type(processor).__name__}")
        pixels = processed_images(processor, read_images(source, on_bad_line), str(source))
        patch = int(getattr(config, "patch_size", 0) or 0)
        if patch <= 0:
            raise DatasetError("masked_image_modeling needs a model config with a patch_size")
        patches = (pixels.shape[2] // patch) * (pixels.shape[3] // patch)
        return Examples({"pixel_values": pixels}, str(source), {"processor": processor, "patches": patches})

    def collate(self, batch, rng, examples, training=False):
        pixels = batch["pixel_values"]
        if training:
            scale = tuple(float(v) for v in self._option("random_resized_crop_scale", MAE_CROP_SCALE))
            pixels = augment(pixels, rng, scale, self._option("random_flip", True))
        noise = rng.random((len(pixels), examples.info["patches"])).astype(np.float32)
        return {**batch, "pixel_values": normalized(pixels, examples.info["processor"]), "noise": noise}

    def model_arrays(self, batch):
        return [batch["pixel_values"].astype(np.float32), batch["noise"].astype(np.float32)]

    def count_arrays(self, arrays) -> int:
        return len(arrays[0])  # every image counts (the model's loss is a mean over images of equal weight)

    def reduce_outputs(self, outputs, batch):
        return []  # the reconstructions are not scored beyond the loss
