"""BERT presets: the tutorial's names, and a tiny size for tests."""

_BASE = dict(hidden_size=768, num_layers=12, num_heads=12, intermediate_size=3072)

# CLUENER 2020's ten entity types, tagged BIO (mf.tasks reads its JSON into these tags)
CLUENER_TYPES = ("address", "book", "company", "game", "government", "movie", "name", "organization", "position",
                 "scene")
CLUENER_LABELS = ["O"] + [f"{prefix}-{kind}" for kind in CLUENER_TYPES for prefix in ("B", "I")]
MNLI_LABELS = ["entailment", "neutral", "contradiction"]  # GLUE MNLI's label ids


def _labels(names):
    return {str(i): name for i, name in enumerate(names)}


_CHINESE = dict(_BASE, vocab_size=21128)

BERT_PRESETS = {
    # name: (description, task, config fields)
    "bert_base_uncased": ("BERT-base, uncased, 110M parameters (masked language modelling)", "fill_mask",
                          dict(_BASE)),
    "txtcls_bert_base_uncased": ("BERT-base uncased for text classification", "text_classification", dict(_BASE)),
    "txtcls_bert_base_uncased_mnli": ("BERT-base uncased for MNLI sentence-pair classification (3 labels)",
                                      "text_classification", dict(_BASE, id2label=_labels(MNLI_LABELS))),
    "tokcls_bert_base_chinese": ("BERT-base Chinese for token classification", "token_classification", _CHINESE),
    "tokcls_bert_base_chinese_cluener": ("BERT-base Chinese for CLUENER named entities (10 types, BIO)",
                                         "token_classification", dict(_CHINESE, id2label=_labels(CLUENER_LABELS))),
    "qa_bert_base_uncased": ("BERT-base uncased for question answering (SQuAD)", "question_answering", dict(_BASE)),
    "qa_bert_base_chinese_uncased": ("BERT-base Chinese for question answering", "question_answering", _CHINESE),
    "bert_tiny": ("a 2-layer, 64-wide BERT with the bert-base-uncased vocabulary, for tests", "fill_mask",
                  dict(hidden_size=64, num_layers=2, num_heads=4, intermediate_size=128, seq_length=128)),
}

BERT_WEIGHTS = {
    "bert_base_uncased": {"hub_repo": "google-bert/bert-base-uncased"},
    # MindFormers' fine-tuned task checkpoints are not on the Hub; a task model starts from the encoder's
    # weights (BertForSequenceClassification.from_pretrained("google-bert/bert-base-uncased") gets a new
    # classifier) and is fine-tuned with the Trainer
    "txtcls_bert_base_uncased": {"weights_note": "fine-tuned weights are not published on the Hugging Face Hub"},
    "tokcls_bert_base_chinese": {"weights_note": "fine-tuned weights are not published on the Hugging Face Hub"},
    "qa_bert_base_uncased": {"weights_note": "fine-tuned weights are not published on the Hugging Face Hub"},
    "txtcls_bert_base_uncased_mnli": {"weights_note": "fine-tuned weights are not published on the Hugging Face Hub"},
    "tokcls_bert_base_chinese_cluener": {"weights_note": "fine-tuned weights are not published on the Hugging Face "
                                                         "Hub"},
    "qa_bert_base_chinese_uncased": {"weights_note": "fine-tuned weights are not published on the Hugging Face Hub"},
    "bert_tiny": {"weights_note": "bert_tiny is a test size; use random weights"},
}
