"""The Pipeline base class: a model, its tokenizer/processor, and pre/forward/post steps."""
from typing import Any, Dict, List

from ..errors import PipelineError


class Pipeline:
    """Calling a pipeline runs preprocess -> forward -> postprocess on each input (batched where it can)."""

    task = ""
    # a single input gives its own result rather than a list of one (as transformers' token
    # classification and question answering pipelines do)
    unwrap_single = False

    def __init__(self, model, tokenizer=None, batch_size: int = 8, **kwargs):
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        # keyword arguments given at construction apply to every call (the tutorial's max_length=50)
        self.default_kwargs: Dict[str, Any] = kwargs

    def __call__(self, inputs, **kwargs):
        options = {**self.default_kwargs, **kwargs}
        single = not isinstance(inputs, (list, tuple))
        items = [inputs] if single else list(inputs)
        if not items:
            raise PipelineError(f"{type(self).__name__} got an empty list of inputs")
        outputs: List[Any] = []
        for start in range(0, len(items), self.batch_size):
            outputs.extend(self.run_batch(items[start:start + self.batch_size], **options))
        return outputs[0] if single and self.unwrap_single else outputs

    def run_batch(self, items, **options) -> List[Any]:
        raise NotImplementedError
