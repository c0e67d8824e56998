"""question_answering: extractive answers, SQuAD v1.1 style.

A (question, context) pair becomes one or more features: [CLS] question [SEP] context-window [SEP],
padded to max_length, where windows over a long context overlap by `stride` tokens. Training points
start/end at the answer's tokens (at [CLS] in a window without the whole answer, as transformers
does); prediction takes, over all windows, the best span inside the context of at most
max_answer_length tokens and returns its characters of the original context.
Data: SQuAD v1.1 JSON ({"data": [{"paragraphs": [{"context", "qas": [{"id", "question",
"answers": [{"text", "answer_start"}]}]}]}]}). Metrics: SQuAD exact match and F1.
"""
import json
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from ..data.blocks import DatasetError
from ..metrics import squad_scores
from .objective import Examples, Objective
from .reading import bad_line, existing_file

MAX_QUESTION_TOKENS = 64


@dataclass
class Feature:
    """One window: model inputs, and for each position the context characters it covers (or None)."""
    input_ids: List[int]
    attention_mask: List[int]
    token_type_ids: List[int]
    spans: List[Optional[Tuple[int, int]]]


def make_features(tokenizer, question: str, context: str, max_length: int, stride: int) -> List[Feature]:
    """The windows of one (question, context) pair; each is padded to max_length."""
    if tokenizer.pad_token_id is None:
        raise DatasetError(f"{type(tokenizer).__name__} has no pad_token; question answering pads to max_length")
    question_ids = tokenizer(question, add_special_tokens=False)["input_ids"][:MAX_QUESTION_TOKENS]
    context_encoding = tokenizer(context, add_special_tokens=False, return_offsets_mapping=True)
    context_ids, offsets = context_encoding["input_ids"], context_encoding["offset_mapping"]
    room = max_length - len(question_ids) - tokenizer.num_special_tokens_to_add(pair=True)
    if room < 8:
        raise DatasetError(f"max_length={max_length} leaves {room} tokens for the context after a "
                           f"{len(question_ids)}-token question; use a larger max_length")
    step = max(room - min(stride, room - 1), 1)
    # mark question and context tokens with distinct negative ids to find where the special tokens go
    question_marks = [-(i + 1) for i in range(len(question_ids))]
    features, start = [], 0
    while True:
        window = list(range(start, min(start + room, len(context_ids))))
        context_marks = [-(len(question_ids) + 1 + i) for i in window]
        layout = tokenizer.build_inputs_with_special_tokens(question_marks, context_marks)
        types = tokenizer.create_token_type_ids(question_marks, context_marks)
        ids, spans = [], []
        for mark in layout:
            if mark >= 0:
                ids.append(mark)
                spans.append(None)
            elif -mark <= len(question_ids):
                ids.append(question_ids[-mark - 1])
                spans.append(None)
            else:
                token = -mark - len(question_ids) - 1
                ids.append(context_ids[token])
                spans.append(tuple(offsets[token]))
        pad = max_length - len(ids)
        features.append(Feature(ids + [tokenizer.pad_token_id] * pad, [1] * len(ids) + [0] * pad,
                                list(types) + [0] * pad, spans + [None] * pad))
        if start + room >= len(context_ids):
            return features
        start += step


def answer_positions(feature: Feature, answer_start: int, answer_end: int) -> Tuple[int, int]:
    """Token positions of the answer's characters [answer_start, answer_end) in a window, or (0, 0)
    (the [CLS] position) when the window does not hold the whole answer."""
    inside = [i for i, span in enumerate(feature.spans) if span is not None]
    if not inside or feature.spans[inside[0]][0] > answer_start or feature.spans[inside[-1]][1] < answer_end:
        return 0, 0
    start = next(i for i in inside if feature.spans[i][1] > answer_start)
    end = next(i for i in reversed(inside) if feature.spans[i][0] < answer_end)
    return start, max(start, end)


def best_spans(start_logits, end_logits, features: List[Feature], top_k=1, max_answer_length=30):
    """The best (score, start_char, end_char) spans over a pair's windows; score is the product of the
    start and end probabilities (softmax over each window's context tokens)."""
    candidates = []
    for starts, ends, feature in zip(start_logits, end_logits, features):
        inside = np.array([span is not None for span in feature.spans])
        if not inside.any():
            continue
        start_p = _masked_softmax(np.asarray(starts, np.float64), inside)
        end_p = _masked_softmax(np.asarray(ends, np.float64), inside)
        scores = np.triu(np.outer(start_p, end_p))
        scores = np.tril(scores, max_answer_length - 1)
        scores[~inside, :] = 0
        scores[:, ~inside] = 0
        for flat in np.argsort(-scores, axis=None)[:top_k]:
            s, e = np.unravel_index(flat, scores.shape)
            if scores[s, e] > 0:
                candidates.append((float(scores[s, e]), feature.spans[s][0], feature.spans[e][1]))
    candidates.sort(key=lambda c: -c[0])
    unique, seen = [], set()
    for candidate in candidates:
        if candidate[1:] not in seen:
            seen.add(candidate[1:])
            unique.append(candidate)
    return unique[:top_k]


def _masked_softmax(logits, keep):
    logits = np.where(keep, logits, -np.inf)
    exp = np.exp(logits - logits[keep].max())
    return exp / exp.sum()


def read_squad(path, on_bad_line="fail"):
    """[(id, question, context, [answer texts], [answer starts])] of a SQuAD v1.1 JSON file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        articles = data["data"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path} is not SQuAD JSON ({exc}); expected {{\"data\": [{{\"paragraphs\": "
                           f"[{{\"context\": ..., \"qas\": [...]}}]}}]}}") from None
    questions = []
    for article in articles:
        for paragraph in article.get("paragraphs", []):
            context = paragraph.get("context", "")
            for qa in paragraph.get("qas", []):
                answers = qa.get("answers") or []
                texts = [a.get("text", "") for a in answers]
                starts = [a.get("answer_start", -1) for a in answers]
                problem = None
                if not isinstance(qa.get("question"), str) or not answers:
                    problem = "a question needs 'question' and at least one answer"
                elif any(context[s:s + len(t)] != t for s, t in zip(starts, texts)):
                    problem = "an answer's 'answer_start' does not point at its text in the context"
                if problem:
                    bad_line(f"{path}: question {qa.get('id')!r}: {problem}", on_bad_line)
                    continue
                questions.append((str(qa.get("id")), qa["question"], context, texts, starts))
    if not questions:
        raise DatasetError(f"{path} has no answered questions")
    return questions


class QuestionAnswering(Objective):
    token_outputs = True
    role = "question_answering"
    label_names = ("start_positions", "end_positions")
    formats = "SQuAD v1.1 JSON"

    def __init__(self, stride: int = 128, max_answer_length: int = 30):
        self.stride, self.max_answer_length = stride, max_answer_length

    def read(self, source, tokenizer, seq_length, config=None, on_bad_line="fail") -> Examples:
        path = existing_file(source, self.formats)
        questions = read_squad(path, on_bad_line)
        stride = min(self.stride, seq_length // 4)
        rows, owner, features_of = [], [], []
        for number, (_, question, context, texts, starts) in enumerate(questions):
            features = make_features(tokenizer, question, context, seq_length, stride)
            features_of.append(features)
            for feature in features:
                start, end = answer_positions(feature, starts[0], starts[0] + len(texts[0]))
                rows.append((feature, start, end))
                owner.append(number)
        arrays = {name: np.asarray([getattr(f, name) for f, _, _ in rows], np.int32)
                  for name in ("input_ids", "attention_mask", "token_type_ids")}
        arrays["start_positions"] = np.asarray([s for _, s, _ in rows], np.int32)
        arrays["end_positions"] = np.asarray([e for _, _, e in rows], np.int32)
        return Examples(arrays, str(path), {"questions": questions, "owner": owner, "features": features_of})

    def metrics(self, outputs, examples):
        start_logits, end_logits = outputs[0], outputs[1]
        owner = np.asarray(examples.info["owner"])
        predictions, answers = {}, {}
        for number, (qid, _, context, texts, _) in enumerate(examples.info["questions"]):
            rows = np.flatnonzero(owner == number)
            best = best_spans(start_logits[rows], end_logits[rows], examples.info["features"][number],
                              max_answer_length=self.max_answer_length)
            predictions[qid] = context[best[0][1]:best[0][2]] if best else ""
            answers[qid] = texts
        return squad_scores(predictions, answers)
