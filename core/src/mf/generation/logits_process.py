"""Next-token logits processing and selection on the host (numpy), as Hugging Face orders it:
repetition penalty and minimum length first, then temperature, top-k and top-p for sampling."""
import numpy as np


def apply_repetition_penalty(logits, sequences, penalty):
    """Divide positive (multiply negative) logits of tokens already in each sequence by penalty."""
    if penalty == 1.0:
        return logits
    logits = logits.copy()
    for row, sequence in enumerate(sequences):
        seen = np.unique(sequence)
        values = logits[row, seen]
        logits[row, seen] = np.where(values < 0, values * penalty, values / penalty)
    return logits


def suppress_tokens(logits, token_ids):
    """Forbid token_ids (e.g. EOS before min_new_tokens)."""
    if not token_ids:
        return logits
    logits = logits.copy()
    logits[:, token_ids] = -np.inf
    return logits


def top_k_filter(logits, top_k):
    """Keep the top_k logits of each row (ties at the boundary kept, as transformers does)."""
    if top_k <= 0 or top_k >= logits.shape[-1]:
        return logits
    kth = np.partition(logits, -top_k, axis=-1)[:, -top_k][:, None]
    return np.where(logits < kth, -np.inf, logits)


def top_p_filter(logits, top_p):
    """Keep the smallest set of tokens whose probability mass reaches top_p (at least one)."""
    if top_p >= 1.0:
        return logits
    order = np.argsort(logits, axis=-1)             # ascending, as transformers sorts
    sorted_logits = np.take_along_axis(logits, order, axis=-1)
    probs = softmax(sorted_logits)
    cumulative = np.cumsum(probs, axis=-1)
    remove_sorted = cumulative <= (1.0 - top_p)
    remove_sorted[:, -1] = False                     # always keep the most likely token
    remove = np.zeros_like(remove_sorted)
    np.put_along_axis(remove, order, remove_sorted, axis=-1)
    return np.where(remove, -np.inf, logits)


def softmax(logits):
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def log_softmax(logits):
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def sample(logits, rng: np.random.Generator):
    """One token per row from softmax(logits)."""
    probs = softmax(logits.astype(np.float64))
    uniform = rng.random((probs.shape[0], 1))
    return np.minimum((np.cumsum(probs, axis=-1) < uniform).sum(axis=-1), probs.shape[-1] - 1)
