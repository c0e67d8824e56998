"""The image_classification task: the top_k labels of each image with their probabilities,
[{'label': 'tabby cat', 'score': 0.61}, ...], best first (as transformers' image-classification pipeline).
Images: file paths, PIL images or arrays; the model's image processor prepares them."""
import numpy as np

from .base import Pipeline
from .encoder_inputs import softmax


class ImageClassificationPipeline(Pipeline):
    task = "image_classification"
    reads = "images"
    unwrap_single = True  # one image gives its list of labels; a list of images gives a list of lists

    def __init__(self, model, tokenizer=None, image_processor=None, **kwargs):
        super().__init__(model, tokenizer=None, **kwargs)
        self.image_processor = image_processor if image_processor is not None else tokenizer
        if self.image_processor is None:
            raise ValueError("ImageClassificationPipeline needs the model's image processor (image_processor=)")

    def run_batch(self, items, top_k=5):
        self.model.set_train(False)
        pixels = self.image_processor(items, return_tensors="ms")["pixel_values"]
        logits = self.model(pixels)
        probabilities = softmax((logits[0] if isinstance(logits, tuple) else logits).asnumpy())
        names = self.model.config.labels() if hasattr(self.model.config, "labels") else \
            [f"LABEL_{i}" for i in range(probabilities.shape[-1])]
        count = probabilities.shape[-1] if not top_k else min(int(top_k), probabilities.shape[-1])
        return [[{"label": names[i], "score": float(row[i])} for i in np.argsort(-row, kind="stable")[:count]]
                for row in probabilities]
