"""mf-bert: the BERT family for mf."""
from .configuration import BertConfig
from .modeling import (BertForMaskedLM, BertForPreTraining, BertForQuestionAnswering, BertForSequenceClassification,
                       BertForTokenClassification, BertModel)
from .processing import BertProcessor
from .tokenization import BertTokenizer

__version__ = "0.1.0"
__all__ = ["BertConfig", "BertModel", "BertForPreTraining", "BertForMaskedLM", "BertForSequenceClassification",
           "BertForTokenClassification", "BertForQuestionAnswering", "BertTokenizer", "BertProcessor"]
