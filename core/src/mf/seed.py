"""set_seed: one call that makes a script reproducible, as transformers.set_seed does.

MindSpore's default seed is not fixed between processes, so without it the same script builds different
initial weights (and draws different dropout masks) in each run.
"""
import random

import numpy as np


def set_seed(seed: int):
    """Seed Python's `random`, numpy's global generator and MindSpore (weights initialisation, dropout, shuffles)."""
    import mindspore as ms

    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    ms.set_seed(seed)
