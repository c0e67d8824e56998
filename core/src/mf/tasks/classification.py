"""text_classification: JSONL {"text", "label"} (or sentence pairs) -> a label per text.

Accepted fields: "text" or "sentence" or "sentence1" (and "text_pair" or "sentence2" for pairs);
"label" an integer id or a name. Metrics: accuracy and macro-F1.
"""
import numpy as np

from ..data.blocks import DatasetError
from ..metrics import accuracy, macro_f1
from .objective import Examples, Objective, encode_padded, label_vocabulary
from .reading import bad_line, existing_file, json_records

TEXT_FIELDS = ("text", "sentence", "sentence1", "premise", "question")
PAIR_FIELDS = ("text_pair", "sentence2", "hypothesis")


def _field(record, names):
    for name in names:
        if name in record:
            return record[name]
    return None


class SequenceClassification(Objective):
    role = "sequence_classification"
    label_names = ("labels",)
    formats = 'JSONL lines {"text": ..., "label": ...}, with "text_pair" for sentence pairs'

    def read(self, source, tokenizer, seq_length, config=None, on_bad_line="fail") -> Examples:
        path = existing_file(source, self.formats)
        texts, pairs, labels = [], [], []
        for number, record in json_records(path, on_bad_line):
            text, pair, label = _field(record, TEXT_FIELDS), _field(record, PAIR_FIELDS), record.get("label")
            if not isinstance(text, str) or (pair is not None and not isinstance(pair, str)):
                bad_line(f'{path}:{number}: no text; expected {{"text": "...", "label": ...}}', on_bad_line)
                continue
            bad_id = isinstance(label, int) and label < 0
            if label is None or isinstance(label, (bool, float, list, dict)) or bad_id:
                bad_line(f"{path}:{number}: 'label' must be an id >= 0 or a label name, got {label!r}",
                         on_bad_line)
                continue
            texts.append(text)
            pairs.append(pair)
            labels.append(label)
        if not texts:
            raise DatasetError(f"{path} has no labelled text; expected {self.formats}")
        names = label_vocabulary(set(labels), config)
        ids = [label if isinstance(label, int) else names.index(str(label)) for label in labels]
        rows = [encode_padded(tokenizer, t, p, seq_length) for t, p in zip(texts, pairs)]
        arrays = {name: np.asarray([row[i] for row in rows], np.int32)
                  for i, name in enumerate(("input_ids", "attention_mask", "token_type_ids"))}
        arrays["labels"] = np.asarray(ids, np.int32)
        return Examples(arrays, str(path), {"label_names": names})

    def metrics(self, outputs, examples):
        predicted = outputs[0].argmax(-1).tolist()
        actual = examples.arrays["labels"].tolist()
        return {"accuracy": accuracy(predicted, actual), "macro_f1": macro_f1(predicted, actual)}
