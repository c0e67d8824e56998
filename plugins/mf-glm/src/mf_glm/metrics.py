"""BLEU-4 and ROUGE-1/2/L of generated responses, computed as ChatGLM's own evaluation (ptuning/main.py) and
MindFormers' ADGENMetric do: ROUGE F-scores on jieba words (rouge-chinese), BLEU-4 on characters (nltk's
sentence BLEU with smoothing method 3), each per response and averaged, as percentages."""
from typing import Dict, Sequence

import numpy as np

NAMES = ("bleu-4", "rouge-1", "rouge-2", "rouge-l")


def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)  # it logs its dictionary loading at INFO
    return jieba


def response_scores(prediction: str, reference: str) -> Dict[str, float]:
    """One response's scores (percent)."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
    from rouge_chinese import Rouge

    jieba = _jieba()
    hypothesis = " ".join(jieba.cut(prediction)).split()
    reference_words = " ".join(jieba.cut(reference)).split()
    if hypothesis and reference_words:
        rouge = Rouge().get_scores(" ".join(hypothesis), " ".join(reference_words))[0]
        scores = {name: rouge[name]["f"] * 100 for name in ("rouge-1", "rouge-2", "rouge-l")}
    else:  # rouge-chinese refuses empty text; an empty answer (or reference) scores 0
        scores = {name: 0.0 for name in ("rouge-1", "rouge-2", "rouge-l")}
    if prediction and reference:
        bleu = sentence_bleu([list(reference)], list(prediction), smoothing_function=SmoothingFunction().method3)
    else:
        bleu = 0.0
    scores["bleu-4"] = bleu * 100
    return scores


def adgen_scores(predictions: Sequence[str], references: Sequence[str]) -> Dict[str, float]:
    """Mean BLEU-4, ROUGE-1, ROUGE-2 and ROUGE-L (percent) over the pairs."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    if not predictions:
        raise ValueError("no predictions to score")
    rows = [response_scores(p, r) for p, r in zip(predictions, references)]
    return {name: float(np.mean([row[name] for row in rows])) for name in NAMES}
