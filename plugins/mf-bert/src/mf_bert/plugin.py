"""What mf-bert registers with mf."""
from mf import hookimpl

from . import convert
from .card import CARD
from .configuration import BertConfig
from .modeling import (BertForMaskedLM, BertForPreTraining, BertForQuestionAnswering, BertForSequenceClassification,
                       BertForTokenClassification, BertModel)
from .presets import BERT_PRESETS, BERT_WEIGHTS
from .processing import BertProcessor
from .tokenization import BertTokenizer, bundled_vocab_file

# the mf.PLUGIN_API versions this plugin works with
MF_PLUGIN_API = ">=1.0,<2"

ROLES = {"base": BertModel, "masked_lm": BertForMaskedLM, "sequence_classification": BertForSequenceClassification,
         "token_classification": BertForTokenClassification, "question_answering": BertForQuestionAnswering}


@hookimpl
def mf_register_models(registry):
    registry.add_model_family("bert", BertConfig, ROLES, default_role="masked_lm", tokenizer_class=BertTokenizer,
                              processor_class=BertProcessor,
                              converter=convert, hf_model_types=("bert",), pet_target_modules=("query", "value"),
                              card=CARD)
    # BertForPreTraining (masked LM + next sentence) plays no core role: exported for direct use
    registry.export(BertConfig, BertTokenizer, BertProcessor, BertForPreTraining, *ROLES.values())
    for name, (description, task, config) in BERT_PRESETS.items():
        # the Chinese vocabulary keeps case (as bert-base-chinese), unless the name says uncased
        tokenizer = {"vocab_file": bundled_vocab_file("chinese"), "do_lower_case": "uncased" in name} \
            if config.get("vocab_size") == 21128 else {}
        registry.add_preset(name, "bert", config, description=description, task=task, tokenizer=tokenizer,
                            **BERT_WEIGHTS[name])
