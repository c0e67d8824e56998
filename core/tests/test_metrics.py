"""mf.metrics against values computed by hand (seqeval's and the official SQuAD script's rules)."""
import pytest

from mf.metrics import (MetricError, accuracy, entity_scores, entity_spans, macro_f1, normalize_answer,
                        squad_exact_match, squad_f1, squad_scores)


def test_accuracy_and_macro_f1():
    predicted, actual = [0, 1, 1, 2, 2, 2], [0, 1, 2, 2, 2, 0]
    assert accuracy(predicted, actual) == pytest.approx(4 / 6)
    # class 0: tp 1 fp 0 fn 1 -> 2/3; class 1: tp 1 fp 1 fn 0 -> 2/3; class 2: tp 2 fp 1 fn 1 -> 2/3
    assert macro_f1(predicted, actual) == pytest.approx(2 / 3)
    # a named class that never occurs scores 0 and pulls the mean down
    assert macro_f1(predicted, actual, labels=[0, 1, 2, 3]) == pytest.approx(0.5)
    with pytest.raises(MetricError, match="3 predictions for 2 references"):
        accuracy([1, 2, 3], [1, 2])


def test_entity_spans_follow_seqeval():
    assert entity_spans(["B-PER", "I-PER", "O", "B-LOC"]) == {("PER", 0, 2), ("LOC", 3, 4)}
    # an I- without its B- starts an entity (seqeval's default mode); a type change ends one
    assert entity_spans(["I-LOC", "I-LOC", "I-PER", "B-PER", "I-PER"]) == {("LOC", 0, 2), ("PER", 2, 3),
                                                                          ("PER", 3, 5)}
    assert entity_spans(["S-ORG", "B-LOC", "E-LOC", "O"]) == {("ORG", 0, 1), ("LOC", 1, 3)}
    with pytest.raises(MetricError, match="not BIO"):
        entity_spans(["X-PER"])


def test_entity_scores_are_exact_span_micro_averages():
    actual = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "B-LOC", "I-LOC"]]
    predicted = [["B-PER", "I-PER", "O", "O"], ["B-ORG", "O", "B-LOC", "O"]]
    scores = entity_scores(predicted, actual)
    # gold: PER, LOC, ORG, LOC (4); predicted: PER, ORG, LOC[2:3] (3); right: PER, ORG (2)
    assert scores["precision"] == pytest.approx(2 / 3) and scores["recall"] == pytest.approx(0.5)
    assert scores["f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert scores["per_type"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}
    assert scores["per_type"]["PER"]["f1"] == 1.0
    with pytest.raises(MetricError, match="sentence 0 has 3 predicted tags for 4 tokens"):
        entity_scores([["O"] * 3], [["O"] * 4])


def test_squad_metrics_use_the_official_normalisation():
    assert normalize_answer("The  Cat, sat!") == "cat sat"
    assert squad_exact_match("the Eiffel Tower.", ["Eiffel tower", "Paris"]) == 1.0
    assert squad_exact_match("Eiffel", ["Eiffel tower"]) == 0.0
    # "the big red dog" vs "red dog": tokens big red dog / red dog -> P 2/3, R 1, F1 0.8
    assert squad_f1("the big red dog", ["red dog"]) == pytest.approx(0.8)
    assert squad_f1("cat", ["dog", "a cat"]) == 1.0 and squad_f1("", ["dog"]) == 0.0
    scores = squad_scores({"q1": "red dog", "q2": "the big red dog"}, {"q1": ["Red dog"], "q2": ["red dog"],
                                                                      "q3": ["missing"]})
    assert scores["exact_match"] == pytest.approx(100 / 3)
    assert scores["f1"] == pytest.approx(100 * (1 + 0.8 + 0) / 3)
