"""token_classification: a BIO tag per word, from CoNLL columns or CLUENER JSON.

- CoNLL: one `word ... TAG` row a line (the word first, the tag last), a blank line between
  sentences, `-DOCSTART-` lines ignored (.conll, .bio, .txt, .tsv).
- CLUENER: JSON lines {"text": "...", "label": {"TYPE": {"mention": [[start, end], ...]}}} with
  inclusive character spans; every character is a word (B-TYPE / I-TYPE / O).
A word's label goes on its first token; its other tokens, special tokens and padding get -100.
Sentences longer than seq_length are cut (their tail words count as "O" predictions; a warning says
how many). Metrics: entity-level precision / recall / F1, exact spans (seqeval), overall and per type.
"""
import warnings

import numpy as np

from ..data.blocks import DatasetError
from ..metrics import entity_scores
from ..nn.losses import IGNORE_INDEX
from .objective import Examples, Objective, label_vocabulary
from .reading import bad_line, existing_file, json_records

CONLL_SUFFIXES = (".conll", ".bio", ".txt", ".tsv", ".iob", ".conllu")


def read_conll(path, on_bad_line="fail"):
    """[(words, tags)] of a CoNLL file."""
    sentences, words, tags = [], [], []
    with open(path, encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, start=1):
            columns = line.split()
            if not columns or columns[0] == "-DOCSTART-":
                if words:
                    sentences.append((words, tags))
                words, tags = [], []
                continue
            if len(columns) < 2:
                bad_line(f"{path}:{number}: expected 'word TAG', got {line.strip()!r}", on_bad_line)
                continue
            words.append(columns[0])
            tags.append(columns[-1])
    if words:
        sentences.append((words, tags))
    return sentences


def read_cluener(path, on_bad_line="fail"):
    """[(characters, tags)] of CLUENER JSON lines."""
    sentences = []
    for number, record in json_records(path, on_bad_line):
        text, spans = record.get("text"), record.get("label", {})
        if not isinstance(text, str) or not isinstance(spans, dict):
            bad_line(f'{path}:{number}: expected {{"text": "...", "label": {{"TYPE": {{"mention": [[s, e]]}}}}}}',
                     on_bad_line)
            continue
        tags = ["O"] * len(text)
        try:
            for kind, mentions in spans.items():
                for mention, places in mentions.items():
                    for start, end in places:
                        if not (0 <= start <= end < len(text)) or text[start:end + 1] != mention:
                            raise ValueError(f"span [{start}, {end}] of {kind} is not {mention!r} in the text")
                        tags[start] = f"B-{kind}"
                        tags[start + 1:end + 1] = [f"I-{kind}"] * (end - start)
        except (ValueError, TypeError, AttributeError) as exc:
            bad_line(f"{path}:{number}: {exc}", on_bad_line)
            continue
        sentences.append((list(text), tags))
    return sentences


def read_sentences(path, on_bad_line="fail"):
    if path.suffix in (".json", ".jsonl"):
        return read_cluener(path, on_bad_line)
    if path.suffix in CONLL_SUFFIXES or not path.suffix:
        return read_conll(path, on_bad_line)
    raise DatasetError(f"{path}: token classification reads CoNLL files ({', '.join(CONLL_SUFFIXES)}) or "
                       f"CLUENER .json/.jsonl")


class TokenClassification(Objective):
    token_outputs = True
    role = "token_classification"
    label_names = ("labels",)
    formats = "CoNLL two-column BIO files (.conll/.bio/.txt) or CLUENER JSON lines"

    def read(self, source, tokenizer, seq_length, config=None, on_bad_line="fail") -> Examples:
        path = existing_file(source, self.formats)
        sentences = read_sentences(path, on_bad_line)
        if not sentences:
            raise DatasetError(f"{path} has no sentences; expected {self.formats}")
        names = label_vocabulary({t for _, tags in sentences for t in tags}, config, fixed_first="O")
        index = {name: i for i, name in enumerate(names)}
        pad, cls_id, sep_id = tokenizer.pad_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id
        if pad is None:
            raise DatasetError(f"{type(tokenizer).__name__} has no pad_token; encoder tasks pad to a fixed length")
        rows = len(sentences)
        arrays = {"input_ids": np.full((rows, seq_length), pad, np.int32),
                  "attention_mask": np.zeros((rows, seq_length), np.int32),
                  "token_type_ids": np.zeros((rows, seq_length), np.int32),
                  "labels": np.full((rows, seq_length), IGNORE_INDEX, np.int32)}
        first_token = []  # per sentence: the position of each word's first token (-1 when cut off)
        cut = 0
        for row, (words, tags) in enumerate(sentences):
            ids, word_ids = tokenizer.encode_words(words)
            ids = [cls_id] + ids[:seq_length - 2] + [sep_id]
            word_ids = [None] + word_ids[:seq_length - 2] + [None]
            positions = [-1] * len(words)
            for position, word in enumerate(word_ids):
                if word is not None and positions[word] < 0:
                    positions[word] = position
                    arrays["labels"][row, position] = index[tags[word]]
            cut += any(p < 0 for p in positions)
            arrays["input_ids"][row, :len(ids)] = ids
            arrays["attention_mask"][row, :len(ids)] = 1
            first_token.append(positions)
        if cut:
            warnings.warn(f"{path}: {cut} of {rows} sentences are longer than seq_length={seq_length} tokens and "
                          f"were cut; raise seq_length to keep them whole")
        return Examples(arrays, str(path), {"label_names": names, "tags": [t for _, t in sentences],
                                            "first_token": first_token})

    def metrics(self, outputs, examples):
        names = examples.info["label_names"]
        best = outputs[0].argmax(-1)
        predicted = [[names[best[row, p]] if p >= 0 else "O" for p in positions]
                     for row, positions in enumerate(examples.info["first_token"])]
        scores = entity_scores(predicted, examples.info["tags"])
        out = {"precision": scores["precision"], "recall": scores["recall"], "f1": scores["f1"]}
        for kind, values in scores["per_type"].items():
            out[f"{kind}_f1"] = values["f1"]
        return out
