"""The feature_extraction task: sentence embeddings from an encoder, mean-pooled over real tokens
(as sentence-transformers does), optionally L2-normalised."""
import numpy as np

from .base import Pipeline
from .encoder_inputs import encode_batch


class FeatureExtractionPipeline(Pipeline):
    task = "feature_extraction"

    def run_batch(self, items, normalize=True, pooling="mean", max_length=None):
        if pooling not in ("mean", "cls"):
            raise ValueError(f"pooling must be 'mean' or 'cls', got {pooling!r}")
        self.model.set_train(False)
        inputs, _ = encode_batch(self.tokenizer, items, max_length, self.model)
        hidden = self.model(*inputs)
        hidden = (hidden[0] if isinstance(hidden, tuple) else hidden).asnumpy().astype(np.float64)
        mask = inputs[1].asnumpy()[..., None].astype(np.float64)
        vectors = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1.0) if pooling == "mean" else hidden[:, 0]
        if normalize:
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)
        return [vector.astype(np.float32) for vector in vectors]
