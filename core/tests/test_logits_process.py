"""Token selection helpers, checked against hand-computed cases."""
import numpy as np

from mf.generation.logits_process import apply_repetition_penalty, sample, top_k_filter, top_p_filter


def test_top_k_keeps_the_k_largest():
    logits = np.array([[1.0, 4.0, 3.0, 2.0]])
    out = top_k_filter(logits, 2)
    assert np.isinf(out[0, [0, 3]]).all() and (out[0, [1, 2]] == [4.0, 3.0]).all()
    assert (top_k_filter(logits, 0) == logits).all()


def test_top_p_keeps_the_smallest_set_reaching_p():
    probs = np.array([[0.5, 0.3, 0.15, 0.05]])
    logits = np.log(probs)
    kept = ~np.isinf(top_p_filter(logits, 0.75))
    assert kept.tolist() == [[True, True, False, False]]
    kept = ~np.isinf(top_p_filter(logits, 0.85))
    assert kept.tolist() == [[True, True, True, False]]
    assert (~np.isinf(top_p_filter(logits, 0.1))).sum() == 1  # always at least the best token


def test_repetition_penalty_divides_positive_and_multiplies_negative():
    logits = np.array([[2.0, -2.0, 1.0]])
    out = apply_repetition_penalty(logits, np.array([[0, 1]]), 2.0)
    assert out.tolist() == [[1.0, -4.0, 1.0]]


def test_sample_follows_the_distribution():
    rng = np.random.default_rng(0)
    logits = np.log(np.array([[0.7, 0.2, 0.1]] * 4000))
    counts = np.bincount(sample(logits, rng), minlength=3) / 4000
    assert np.allclose(counts, [0.7, 0.2, 0.1], atol=0.03)
