"""pipeline(task, model=None, tokenizer=None, **kwargs): tasks come from the registry."""
from .base import Pipeline
from .feature_extraction import FeatureExtractionPipeline
from .fill_mask import FillMaskPipeline
from .image_classification import ImageClassificationPipeline
from .masked_image_modeling import MaskedImageModelingPipeline
from .question_answering import QuestionAnsweringPipeline
from .text2text_generation import Text2TextGenerationPipeline, TranslationPipeline
from .text_classification import TextClassificationPipeline
from .text_generation import TextGenerationPipeline
from .token_classification import TokenClassificationPipeline
from .zero_shot_image_classification import ZeroShotImageClassificationPipeline


def pipeline(task: str, model=None, tokenizer=None, **kwargs) -> Pipeline:
    """Build the pipeline for a registered task.

    model is a preset name, a model directory, or a model instance; with None the
    task's default model is used. tokenizer defaults to the model's own.
    kwargs (e.g. max_length=50) apply to every call.
    """
    import re

    from ..auto import AutoImageProcessor, AutoProcessor, AutoTokenizer
    from ..plugins import get_registry

    pair = re.fullmatch(r"translation_([A-Za-z-]+)_to_([A-Za-z-]+)", task)
    if pair:  # transformers' spelling of a language pair: "translation_en_to_de"
        task = "translation"
        kwargs.setdefault("src_lang", pair.group(1))
        kwargs.setdefault("tgt_lang", pair.group(2))
    spec = get_registry().task(task)
    if spec.pipeline_class is None:
        raise ValueError(f"task '{task}' has no pipeline")
    if model is None:
        model = spec.default_model
        if model is None:
            raise ValueError(f"task '{task}' has no default model; pass model=")
    source = model if isinstance(model, str) else None
    if isinstance(model, str):
        model = _model_for_task(model, spec.model_role)
    # an image task's "tokenizer" is the model's image processor (image_processor= names it too)
    reads = getattr(spec.pipeline_class, "reads", "text")
    loader = {"images": AutoImageProcessor, "images_and_text": AutoProcessor}.get(reads, AutoTokenizer)
    if tokenizer is None and reads != "text":
        tokenizer = kwargs.pop("image_processor" if reads == "images" else "processor", None)
    if tokenizer is None:
        source = source or getattr(model.config, "name_or_path", "")
        if not source:
            kind = {"images": "image_processor", "images_and_text": "processor"}.get(reads, "tokenizer")
            raise ValueError(f"pass {kind}= with a model instance that was not loaded from a preset or directory")
        tokenizer = loader.from_pretrained(source)
    elif isinstance(tokenizer, str):
        tokenizer = loader.from_pretrained(tokenizer)
    return spec.pipeline_class(model=model, tokenizer=tokenizer, **kwargs)


def _model_for_task(name, role):
    """The family's class for the task's role (a BERT checkpoint becomes a BertModel for feature_extraction,
    a BertForMaskedLM for fill_mask), else what AutoModel gives."""
    from ..auto import AutoModel, _family_of

    family, _ = _family_of(name)
    if role in family.model_classes:
        return family.model_classes[role].from_pretrained(name)
    return AutoModel.from_pretrained(name)


__all__ = ["FeatureExtractionPipeline", "FillMaskPipeline", "ImageClassificationPipeline",
           "MaskedImageModelingPipeline", "ZeroShotImageClassificationPipeline", "Pipeline",
           "QuestionAnsweringPipeline",
           "Text2TextGenerationPipeline", "TextClassificationPipeline", "TextGenerationPipeline",
           "TokenClassificationPipeline", "TranslationPipeline", "pipeline"]
