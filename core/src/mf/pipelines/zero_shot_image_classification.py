"""The zero_shot_image_classification task: an image-text model (CLIP) scores each image against captions made
from candidate labels, [{'label': 'cat', 'score': 0.91}, ...], best first, the scores a softmax over the
labels (as transformers' zero-shot-image-classification pipeline).

    classifier = pipeline("zero_shot_image_classification", model="clip_vit_b_32",
                          candidate_labels=["cat", "dog"], hypothesis_template="a photo of a {}.")
    classifier("cat.jpg")
"""
import numpy as np

from .base import Pipeline
from .encoder_inputs import softmax

DEFAULT_TEMPLATE = "This is a photo of {}."


class ZeroShotImageClassificationPipeline(Pipeline):
    task = "zero_shot_image_classification"
    reads = "images_and_text"
    unwrap_single = True  # one image gives its list of labels; a list of images gives a list of lists

    def __init__(self, model, tokenizer=None, processor=None, **kwargs):
        super().__init__(model, tokenizer=None, **kwargs)
        self.processor = processor if processor is not None else tokenizer
        if self.processor is None:
            raise ValueError("ZeroShotImageClassificationPipeline needs the model's processor of images and text "
                             "(processor=, e.g. CLIPProcessor)")

    def label_vectors(self, labels, template):
        """Normalised caption vectors of the candidate labels put into the template."""
        if "{}" not in template:
            raise ValueError(f"hypothesis_template must hold '{{}}' where the label goes, got {template!r}")
        encoded = self.processor(text=[template.format(label) for label in labels], return_tensors="ms",
                                 padding=True)
        vectors = self.model.get_text_features(encoded["input_ids"], encoded["attention_mask"]).asnumpy()
        return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)

    def run_batch(self, items, candidate_labels=None, hypothesis_template=DEFAULT_TEMPLATE):
        if isinstance(candidate_labels, str):
            candidate_labels = [label.strip() for label in candidate_labels.split(",") if label.strip()]
        if not candidate_labels:
            raise ValueError("zero_shot_image_classification needs candidate_labels=[...] (the classes to choose "
                             "from)")
        self.model.set_train(False)
        labels = list(candidate_labels)
        text = self.label_vectors(labels, hypothesis_template)
        pixels = self.processor(images=items, return_tensors="ms")["pixel_values"]
        image = self.model.get_image_features(pixels).asnumpy()
        image = image / np.linalg.norm(image, axis=-1, keepdims=True)
        scale = float(np.exp(self.model.logit_scale.asnumpy()))
        probabilities = softmax(scale * image @ text.T)
        return [[{"label": labels[i], "score": float(row[i])} for i in np.argsort(-row, kind="stable")]
                for row in probabilities]
