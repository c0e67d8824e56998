"""BERT presets: the tutorial's names, and a tiny size for tests."""

_BASE = dict(hidden_size=768, num_layers=12, num_heads=12, intermediate_size=3072)

BERT_PRESETS = {
    # name: (description, task, config fields)
    "bert_base_uncased": ("BERT-base, uncased, 110M parameters (masked language modelling)",
                          "masked_language_modeling", dict(_BASE)),
    "txtcls_bert_base_uncased": ("BERT-base uncased for text classification", "text_classification",
                                 dict(_BASE)),
    "tokcls_bert_base_chinese": ("BERT-base Chinese for token classification", "token_classification",
                                 dict(_BASE, vocab_size=21128)),
    "qa_bert_base_uncased": ("BERT-base uncased for question answering", "question_answering", dict(_BASE)),
    "bert_tiny": ("a 2-layer, 64-wide BERT with the bert-base-uncased vocabulary, for tests",
                  "masked_language_modeling",
                  dict(hidden_size=64, num_layers=2, num_heads=4, intermediate_size=128, seq_length=128)),
}

BERT_WEIGHTS = {
    "bert_base_uncased": {"hub_repo": "google-bert/bert-base-uncased"},
    # MindFormers' fine-tuned task checkpoints are not on the Hub; a task model starts from the encoder's
    # weights (e.g. BertForSequenceClassification.from_pretrained("google-bert/bert-base-uncased") fails on the
    # missing classifier today: starting a new head from an encoder checkpoint comes with the task pipelines)
    "txtcls_bert_base_uncased": {"weights_note": "fine-tuned weights are not published on the Hugging Face Hub"},
    "tokcls_bert_base_chinese": {"weights_note": "fine-tuned weights are not published on the Hugging Face Hub"},
    "qa_bert_base_uncased": {"weights_note": "fine-tuned weights are not published on the Hugging Face Hub"},
    "bert_tiny": {"weights_note": "bert_tiny is a test size; use random weights"},
}
