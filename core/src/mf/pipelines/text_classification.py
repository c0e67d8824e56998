"""The text_classification task: a label and its probability for each text or (text, pair):
[{'label': 'spam', 'score': 0.98}] (top_k=None gives every label, best first)."""
import numpy as np

from .base import Pipeline
from .encoder_inputs import encode_batch, softmax


class TextClassificationPipeline(Pipeline):
    task = "text_classification"

    def run_batch(self, items, top_k=1, max_length=None):
        self.model.set_train(False)
        inputs, _ = encode_batch(self.tokenizer, items, max_length, self.model)
        logits = self.model(*inputs)
        probabilities = softmax((logits[0] if isinstance(logits, tuple) else logits).asnumpy())
        names = self.model.config.labels() if hasattr(self.model.config, "labels") else \
            [f"LABEL_{i}" for i in range(probabilities.shape[-1])]
        results = []
        for row in probabilities:
            order = np.argsort(-row)[:top_k] if top_k else np.argsort(-row)
            ranked = [{"label": names[i], "score": float(row[i])} for i in order]
            results.append(ranked[0] if top_k == 1 else ranked)
        return results
