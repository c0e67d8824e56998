"""The encoder tasks' objectives: how the Trainer reads, trains and scores each (see objective.py)."""
from .classification import SequenceClassification
from .masked_lm import MaskedLanguageModelling, mask_tokens
from .objective import Examples, Objective
from .question_answering import QuestionAnswering, best_spans, make_features
from .token_classification import TokenClassification, read_cluener, read_conll

__all__ = ["Examples", "MaskedLanguageModelling", "Objective", "QuestionAnswering", "SequenceClassification",
           "TokenClassification", "best_spans", "make_features", "mask_tokens", "read_cluener", "read_conll"]
