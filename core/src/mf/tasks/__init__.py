"""The non-causal tasks' objectives: how the Trainer reads, trains and scores each (see objective.py)."""
from .classification import SequenceClassification
from .contrastive import ContrastiveImageText
from .image_classification import ImageClassification
from .masked_image_modeling import MaskedImageModelling
from .masked_lm import MaskedLanguageModelling, mask_tokens
from .objective import Examples, Objective
from .question_answering import QuestionAnswering, best_spans, make_features
from .token_classification import TokenClassification, read_cluener, read_conll
from .translation import SpanCorruption, Translation, noise_span_mask, span_corruption

__all__ = ["ContrastiveImageText", "Examples", "ImageClassification", "MaskedImageModelling", "MaskedLanguageModelling", "Objective", "QuestionAnswering",
           "SequenceClassification",
           "SpanCorruption", "TokenClassification", "Translation", "best_spans", "make_features", "mask_tokens",
           "noise_span_mask", "read_cluener", "read_conll", "span_corruption"]
