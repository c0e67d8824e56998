"""contrastive_language_image_pretrain (CLIP): image-caption pairs -> both towers learn one space in which
each image is nearest its own caption. Data: JSONL lines {"image": path, "caption": text} (paths relative to
the file; "text" is read as the caption too).

The loss is the symmetric InfoNCE of the whole global batch (mf.nn.contrastive_loss): with data parallelism
every rank gathers all ranks' image and caption vectors (AllGather) and computes the loss of the global
batch, so dp=N trains exactly as one process on the same batch. Only the rank's own vectors carry gradient
back, scaled by N: summed over ranks, that is the gradient of the global loss. Images are kept as uint8 and
augmented in training with a mild random resized crop (scale 0.9-1, as open_clip; no flips, which would
contradict captions that say left or right), unless TrainingArguments say otherwise.

Evaluation: the loss over each evaluation batch, and retrieval over the whole evaluation set: recall@1 and
recall@5 from images to captions and from captions to images (an image retrieves its caption when a caption
with the same text ranks in the top k).
"""
import numpy as np
from mindspore import nn, ops

from ..data.blocks import DatasetError
from ..nn import contrastive_loss, normalize
from .image_classification import augment, normalized, processed_images
from .objective import Examples, Objective
from ..fileio import user_path

CONTRASTIVE_CROP_SCALE = (0.9, 1.0)
EXAMPLE = '{"image": "cat.png", "caption": "a cat"}'


def read_image_captions(path, on_bad_line="fail"):
    """(image paths, captions, records) of a JSONL file of {"image", "caption"} lines."""
    from ..data.images import record_image
    from .reading import bad_line, json_records

    path = user_path(path)
    if not (path.is_file() and path.suffix in (".jsonl", ".json")):
        raise DatasetError(f"{path}: contrastive_language_image_pretrain reads a JSONL file of lines "
                           f'{{"image": path, "caption": text}}')
    images, captions, records = [], [], []
    for number, record in json_records(path, on_bad_line):
        caption = record.get("caption", record.get("text"))
        if not isinstance(caption, str) or not caption.strip():
            bad_line(f'{path}:{number}: no "caption" text; expected {EXAMPLE}', on_bad_line)
            continue
        file = record_image(path, number, record.get("image"), on_bad_line, EXAMPLE)
        if file is None:
            continue
        images.append(str(file))
        captions.append(caption)
        records.append(record)
    if not images:
        raise DatasetError(f"{path} holds no image-caption pairs")
    return images, captions, records


def retrieval_recalls(image_embeds: np.ndarray, text_embeds: np.ndarray, captions, ks=(1, 5)):
    """Recall@k of image -> caption and caption -> image retrieval by cosine similarity. Pair i matches; a
    caption whose text equals image i's caption counts as a match too (datasets repeat captions)."""
    image_embeds = image_embeds / np.linalg.norm(image_embeds, axis=-1, keepdims=True)
    text_embeds = text_embeds / np.linalg.norm(text_embeds, axis=-1, keepdims=True)
    similarity = image_embeds @ text_embeds.T
    ids = {caption: i for i, caption in enumerate(dict.fromkeys(captions))}
    caption_ids = np.array([ids[c] for c in captions])
    same = caption_ids[:, None] == caption_ids[None, :]  # [image i, caption j]: j describes i
    out = {}
    for k in ks:
        best_captions = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
        out[f"image_to_text_recall@{k}"] = float(np.take_along_axis(same, best_captions, 1).any(1).mean())
        best_images = np.argsort(-similarity.T, axis=1, kind="stable")[:, :k]
        out[f"text_to_image_recall@{k}"] = float(np.take_along_axis(same.T, best_images, 1).any(1).mean())
    return out


def unit_vectors(model, input_ids, pixel_values, attention_mask):
    """The image-text model's normalised (image, caption) vectors."""
    image = normalize(model.get_image_features(pixel_values))
    return image, normalize(model.get_text_features(input_ids, attention_mask))


def similarities(model, image, text):
    """logits_per_image: cosine similarities times exp(logit_scale)."""
    return ops.matmul(image, text.T) * ops.exp(model.logit_scale)


class ContrastiveLoss(nn.Cell):
    """(scale, input_ids, pixel_values, attention_mask) -> the global batch's contrastive loss times scale.
    With world > 1 (data-parallel ranks, the world group) every rank's vectors are gathered first."""

    def __init__(self, model, rank: int = 0, world: int = 1):
        super().__init__(auto_prefix=False)
        self.model = model
        self.rank, self.world = rank, world
        self.gather = ops.AllGather() if world > 1 else None

    def global_batch(self, local):
        """All ranks' rows, in rank order; gradient flows to this rank's own rows only, times world (so that
        the ranks' summed gradients are the global loss's)."""
        gathered = ops.stop_gradient(self.gather(local))
        rows, width = local.shape
        parts = ()
        if self.rank > 0:
            parts = parts + (ops.zeros((self.rank * rows, width), local.dtype),)
        parts = parts + ((local - ops.stop_gradient(local)) * self.world,)
        if self.rank < self.world - 1:
            parts = parts + (ops.zeros(((self.world - 1 - self.rank) * rows, width), local.dtype),)
        return gathered + ops.concat(parts, 0)

    def construct(self, scale, input_ids, pixel_values, attention_mask):
        image, text = unit_vectors(self.model, input_ids, pixel_values, attention_mask)
        if self.gather is not None:
            image, text = self.global_batch(image), self.global_batch(text)
        return contrastive_loss(similarities(self.model, image, text)) * scale


class ContrastiveForward(nn.Cell):
    """Evaluation: (input_ids, pixel_values, attention_mask) -> (the batch's contrastive loss, normalised image
    vectors, normalised caption vectors)."""

    def __init__(self, model):
        super().__init__(auto_prefix=False)
        self.model = model

    def construct(self, input_ids, pixel_values, attention_mask):
        image, text = unit_vectors(self.model, input_ids, pixel_values, attention_mask)
        return contrastive_loss(similarities(self.model, image, text)), image, text


class ContrastiveImageText(Objective):
    role = "image_text"
    label_names = ()
    reads = "images_and_text"
    pad_last_batch = False  # padded rows would be negatives of every caption: the last batch runs at its size
    formats = 'JSONL lines {"image": path, "caption": text}'

    def read(self, source, processor, seq_length=None, config=None, on_bad_line="fail") -> Examples:
        image_processor = getattr(processor, "image_processor", None)
        tokenizer = getattr(processor, "tokenizer", None)
        if image_processor is None or tokenizer is None:
            raise DatasetError(f"contrastive_language_image_pretrain reads images and captions: it needs the "
                               f"model's processor of both (e.g. CLIPProcessor), got {type(processor).__name__}")
        images, captions, _ = read_image_captions(source, on_bad_line)
        width = seq_length or getattr(config, "max_position_embeddings", None) or tokenizer.model_max_length
        encoded = tokenizer(captions, padding="max_length", truncation=True, max_length=int(width))
        arrays = {"input_ids": np.asarray(encoded["input_ids"], np.int32),
                  "attention_mask": np.asarray(encoded["attention_mask"], np.int32),
                  "pixel_values": processed_images(image_processor, images, str(source))}
        return Examples(arrays, str(source), {"processor": image_processor, "captions": captions})

    def collate(self, batch, rng, examples, training=False):
        pixels = batch["pixel_values"]
        if training:
            scale = tuple(float(v) for v in self._option("random_resized_crop_scale", CONTRASTIVE_CROP_SCALE))
            pixels = augment(pixels, rng, scale, self._option("random_flip", False))
        return {**batch, "pixel_values": normalized(pixels, examples.info["processor"])}

    def model_arrays(self, batch):
        return [batch["input_ids"].astype(np.int32), batch["pixel_values"].astype(np.float32),
                batch["attention_mask"].astype(np.int32)]

    def count_arrays(self, arrays) -> int:
        return len(arrays[0])  # every pair counts

    def loss_cell(self, model, topology=None):
        if topology is None or topology.dp == 1:
            return ContrastiveLoss(model)
        if topology.dp != topology.size:
            from ..trainer.arguments import TrainingError

            raise TrainingError(f"contrastive training gathers the batch over every rank, which needs pure data "
                                f"parallelism; this run has dp {topology.dp} of {topology.size} ranks")
        return ContrastiveLoss(model, topology.dp_rank, topology.dp)

    def forward_cell(self, model):
        return ContrastiveForward(model)

    def metrics(self, outputs, examples):
        image_embeds, text_embeds = outputs
        return retrieval_recalls(image_embeds, text_embeds, examples.info["captions"])
