"""mf-bert: the BERT family for mf."""
from .configuration import BertConfig
from .modeling import (BertForMaskedLM, BertForQuestionAnswering, BertForSequenceClassification,
                       BertForTokenClassification, BertModel)
from .tokenization import BertTokenizer

__version__ = "0.1.0"
__all__ = ["BertConfig", "BertModel", "BertForMaskedLM", "BertForSequenceClassification",
           "BertForTokenClassification", "BertForQuestionAnswering", "BertTokenizer"]
