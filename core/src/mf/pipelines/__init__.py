"""pipeline(task, model=None, tokenizer=None, **kwargs): tasks come from the registry."""
from .base import Pipeline
from .text_generation import TextGenerationPipeline


def pipeline(task: str, model=None, tokenizer=None, **kwargs) -> Pipeline:
    """Build the pipeline for a registered task.

    model is a preset name, a model directory, or a model instance; with None the
    task's default model is used. tokenizer defaults to the model's own.
    kwargs (e.g. max_length=50) apply to every call.
    """
    from ..auto import AutoModel, AutoTokenizer
    from ..plugins import get_registry

    spec = get_registry().task(task)
    if spec.pipeline_class is None:
        raise ValueError(f"task '{task}' has no pipeline")
    if model is None:
        model = spec.default_model
        if model is None:
            raise ValueError(f"task '{task}' has no default model; pass model=")
    source = model if isinstance(model, str) else None
    if isinstance(model, str):
        model = AutoModel.from_pretrained(model)
    if tokenizer is None:
        source = source or getattr(model.config, "name_or_path", "")
        if not source:
            raise ValueError("pass tokenizer= with a model instance that was not loaded from a preset or directory")
        tokenizer = AutoTokenizer.from_pretrained(source)
    elif isinstance(tokenizer, str):
        tokenizer = AutoTokenizer.from_pretrained(tokenizer)
    return spec.pipeline_class(model=model, tokenizer=tokenizer, **kwargs)


__all__ = ["Pipeline", "TextGenerationPipeline", "pipeline"]
