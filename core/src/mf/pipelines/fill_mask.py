"""The fill_mask task: the most likely tokens for each [MASK], as transformers' fill-mask pipeline:
[{'score', 'token', 'token_str', 'sequence'}, ...] best first."""
import numpy as np

from ..errors import PipelineError
from ..generation import GenerationError
from .base import Pipeline
from .encoder_inputs import encode_batch, softmax


class FillMaskPipeline(Pipeline):
    task = "fill_mask"

    def run_batch(self, items, top_k=5, max_length=None):
        if type(top_k) is not int or top_k < 1:
            raise PipelineError(f"top_k must be a positive integer, got {top_k!r}")
        mask_id = self.tokenizer.mask_token_id
        if mask_id is None:
            raise GenerationError(f"{type(self.tokenizer).__name__} has no mask token; fill_mask needs one")
        self.model.set_train(False)
        inputs, rows = encode_batch(self.tokenizer, items, max_length, self.model)
        logits = self.model(*inputs)
        logits = (logits[0] if isinstance(logits, tuple) else logits).asnumpy()
        results = []
        for row, (ids, text) in enumerate(zip(rows, items)):
            positions = [i for i, token in enumerate(ids) if token == mask_id]
            if not positions:
                raise GenerationError(f"no {self.tokenizer.mask_token} in {text!r}; fill_mask fills that token")
            per_mask = []
            for position in positions:
                probabilities = softmax(logits[row, position])
                best = np.argsort(-probabilities)[:top_k]
                per_mask.append([self._candidate(ids, position, int(token), float(probabilities[token]))
                                 for token in best])
            results.append(per_mask[0] if len(per_mask) == 1 else per_mask)
        return results

    def _candidate(self, ids, position, token, score):
        filled = list(ids)
        filled[position] = token
        return {"score": score, "token": token, "token_str": self.tokenizer.decode([token]).strip(),
                "sequence": self.tokenizer.decode(filled, skip_special_tokens=True)}
