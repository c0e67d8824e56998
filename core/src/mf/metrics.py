"""Evaluation metrics of the encoder tasks, on plain Python/numpy values.

- accuracy and macro-F1 (text classification);
- entity-level precision / recall / F1 over BIO tags, exact spans, as seqeval computes them
  (token classification);
- SQuAD v1.1 exact match and F1 with the official answer normalisation (question answering);
- corpus BLEU and chrF of generated text, computed by sacreBLEU with its defaults (translation).

Every function takes predictions and references and returns numbers; tasks register the ones they
report (`registry.add_metric`), so a plugin's task can reuse them by name.
"""
import collections
import re
import string
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

import numpy as np

from .errors import MFError


class MetricError(MFError, ValueError):
    """Predictions and references that cannot be compared."""


def _same_length(predictions, references):
    if len(predictions) != len(references):
        raise MetricError(f"got {len(predictions)} predictions for {len(references)} references; "
                          f"give one prediction per reference")
    if not len(references):
        raise MetricError("no references to score")


# ---- classification --------------------------------------------------------------------------
def accuracy(predictions: Sequence, references: Sequence) -> float:
    """The fraction of predictions equal to their reference."""
    _same_length(predictions, references)
    return float(np.mean([p == r for p, r in zip(predictions, references)]))


def macro_f1(predictions: Sequence, references: Sequence, labels: Optional[Iterable] = None) -> float:
    """The unweighted mean over classes of each class's F1 (a class never predicted nor present scores 0
    only if it is named in `labels`; by default the classes are those that occur)."""
    _same_length(predictions, references)
    classes = list(labels) if labels is not None else sorted(set(references) | set(predictions), key=str)
    scores = []
    for label in classes:
        tp = sum(p == label and r == label for p, r in zip(predictions, references))
        fp = sum(p == label and r != label for p, r in zip(predictions, references))
        fn = sum(p != label and r == label for p, r in zip(predictions, references))
        scores.append(_f1(tp, fp, fn))
    return float(np.mean(scores))


def _f1(tp, fp, fn) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


# ---- entities (BIO) --------------------------------------------------------------------------
def entity_spans(tags: Sequence[str]) -> Set[Tuple[str, int, int]]:
    """(type, start, end exclusive) of each entity in one sentence's BIO tags.

    As seqeval's default (lenient) mode: an entity starts at B-X, or at I-X that does not continue an
    entity of type X, and runs over the I-X after it. E-X and S-X (IOBES) end or form an entity.
    """
    spans, kind, start = set(), None, 0
    for index, tag in enumerate(list(tags) + ["O"]):
        prefix, _, label = tag.partition("-") if tag not in ("O", "") else ("O", "", "")
        if prefix not in ("B", "I", "E", "S", "O"):
            raise MetricError(f"tag {tag!r} is not BIO: expected O, B-TYPE or I-TYPE (or E-/S- of IOBES)")
        continues = prefix in ("I", "E") and kind == label
        if kind is not None and not continues:
            spans.add((kind, start, index))
            kind = None
        if prefix in ("B", "S") or (prefix in ("I", "E") and not continues):
            kind, start = label, index
        if prefix in ("E", "S") and kind is not None:
            spans.add((kind, start, index + 1))
            kind = None
    return spans


def entity_scores(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> Dict:
    """Micro precision / recall / F1 over exact entity spans, overall and per type (seqeval's numbers)."""
    _same_length(predictions, references)
    counts = collections.defaultdict(lambda: [0, 0, 0])  # type -> [true positives, predicted, actual]
    for number, (predicted, actual) in enumerate(zip(predictions, references)):
        if len(predicted) != len(actual):
            raise MetricError(f"sentence {number} has {len(predicted)} predicted tags for {len(actual)} tokens")
        guessed, gold = entity_spans(predicted), entity_spans(actual)
        for kind, *_ in guessed:
            counts[kind][1] += 1
        for kind, *_ in gold:
            counts[kind][2] += 1
        for kind, *_ in guessed & gold:
            counts[kind][0] += 1

    def score(tp, predicted, actual):
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": precision, "recall": recall, "f1": f1, "support": actual}

    totals = np.sum([c for c in counts.values()], axis=0) if counts else [0, 0, 0]
    return {**score(*totals), "per_type": {kind: score(*c) for kind, c in sorted(counts.items())}}


# ---- SQuAD -----------------------------------------------------------------------------------
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """The official SQuAD v1.1 normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def squad_exact_match(prediction: str, ground_truths: Sequence[str]) -> float:
    return float(max(normalize_answer(prediction) == normalize_answer(truth) for truth in ground_truths))


def squad_f1(prediction: str, ground_truths: Sequence[str]) -> float:
    """Best token-overlap F1 against any ground truth."""
    def f1(truth):
        predicted, actual = normalize_answer(prediction).split(), normalize_answer(truth).split()
        common = collections.Counter(predicted) & collections.Counter(actual)
        same = sum(common.values())
        if same == 0:
            return 0.0
        precision, recall = same / len(predicted), same / len(actual)
        return 2 * precision * recall / (precision + recall)

    return max(f1(truth) for truth in ground_truths)


def squad_scores(predictions: Dict[str, str], answers: Dict[str, List[str]]) -> Dict[str, float]:
    """exact_match and f1 in percent over the questions in `answers` (id -> its ground-truth texts);
    a question without a prediction scores 0, as the official script counts it."""
    if not answers:
        raise MetricError("no questions to score")
    exact = [squad_exact_match(predictions.get(qid, ""), truths) for qid, truths in answers.items()]
    f1 = [squad_f1(predictions.get(qid, ""), truths) for qid, truths in answers.items()]
    return {"exact_match": 100.0 * float(np.mean(exact)), "f1": 100.0 * float(np.mean(f1))}


def perplexity(mean_nll: float) -> float:
    """exp of a mean negative log-likelihood (capped so that it stays a float)."""
    return float(np.exp(min(mean_nll, 700.0)))


# ---- generated text ----------------------------------------------------------------------------
def _references_by_stream(hypotheses, references) -> List[List[str]]:
    """references as one list per reference stream (sacreBLEU's layout): each item of `references` is a
    string or a list of alternative references (all the same count)."""
    _same_length(hypotheses, references)
    rows = [[r] if isinstance(r, str) else list(r) for r in references]
    counts = {len(r) for r in rows}
    if len(counts) > 1 or 0 in counts:
        raise MetricError(f"every hypothesis needs the same number (>= 1) of references; got counts {sorted(counts)}")
    for item in list(hypotheses) + [text for row in rows for text in row]:
        if not isinstance(item, str):
            raise MetricError(f"BLEU and chrF score text; got {type(item).__name__}: {item!r}")
    return [list(stream) for stream in zip(*rows)]


def bleu(hypotheses: Sequence[str], references: Sequence) -> Dict[str, float]:
    """Corpus BLEU (0-100) as sacreBLEU's default (13a tokenisation, exponential smoothing, case-sensitive),
    with its n-gram precisions, brevity penalty and lengths."""
    from sacrebleu.metrics import BLEU

    score = BLEU().corpus_score(list(hypotheses), _references_by_stream(hypotheses, references))
    out = {"bleu": float(score.score), "brevity_penalty": float(score.bp), "hyp_len": int(score.sys_len),
           "ref_len": int(score.ref_len)}
    out.update({f"precision_{n}": float(p) for n, p in enumerate(score.precisions, start=1)})
    return out


def chrf(hypotheses: Sequence[str], references: Sequence) -> float:
    """Corpus chrF (0-100) as sacreBLEU's default (character 6-grams, beta 2)."""
    from sacrebleu.metrics import CHRF

    return float(CHRF().corpus_score(list(hypotheses), _references_by_stream(hypotheses, references)).score)
