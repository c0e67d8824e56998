"""mf plan's memory estimate against the peak memory of real training steps on this machine.

The estimate covers what training itself holds (weights, gradients, optimizer state,
activations); MindSpore's runtime adds a fixed cost per process and per compiled layer (about
60 MB a block here) that the estimate leaves to the device's reserve. So each check compares
what changes between two runs of one model, where that fixed cost cancels: more tokens (the
activations, with and without recompute) and a bigger vocabulary (the parameter state).
"""
import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mf import AutoConfig
from mf.parallel.plan import Hardware, Layout, estimate

SCRIPT = Path(__file__).parent / "parallel" / "measure_memory.py"
LENGTH = 128
MODELS = {
    "gpt2": dict(hidden_size=128, num_heads=4, vocab_size=4096, seq_length=LENGTH, num_layers=4,
                 hidden_dropout=0.0, embedding_dropout=0.0, attention_dropout=0.0),
    "llama_tiny": dict(hidden_size=128, intermediate_size=352, num_heads=4, n_kv_heads=2, vocab_size=4096,
                       seq_length=LENGTH, num_layers=4),
}


@functools.lru_cache(maxsize=None)
def measurement(preset, batch, recompute=False, **overrides) -> dict:
    result = subprocess.run([sys.executable, str(SCRIPT), preset, str(batch), str(LENGTH), "1" if recompute else "0",
                             json.dumps(overrides)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def measured_mb(preset, batch, recompute=False, **overrides) -> float:
    report = measurement(preset, batch, recompute, **overrides)
    return report["peak_mb"] - report["before_mb"]


def estimated_mb(preset, batch, recompute=False, **overrides) -> float:
    """mf plan's estimate for the optimizer path the measurement ran (mf's in-place AdamW kernel, or
    MindSpore's Adam with its gradient-sized temporaries when the kernels are off)."""
    in_place = measurement(preset, batch, recompute, **overrides)["in_place_update"]
    shape = AutoConfig.from_pretrained(preset, **overrides).transformer_shape()
    hardware = Hardware(devices=1, device_memory=1e12, in_place_update=in_place)
    e = estimate(shape, Layout(recompute=recompute), hardware, LENGTH, batch)
    return e.total_memory / 2 ** 20


@pytest.mark.parametrize("preset", list(MODELS))
@pytest.mark.parametrize("recompute", [False, True])
def test_activation_estimate_matches_measured_growth(preset, recompute):
    overrides = MODELS[preset]
    small, large = measured_mb(preset, 4, recompute, **overrides), measured_mb(preset, 16, recompute, **overrides)
    expected = estimated_mb(preset, 16, recompute, **overrides) - estimated_mb(preset, 4, recompute, **overrides)
    assert large - small == pytest.approx(expected, rel=0.15), (small, large, expected)


def test_recompute_lowers_measured_memory_as_estimated():
    overrides = MODELS["gpt2"]
    saved = measured_mb("gpt2", 16, False, **overrides) - measured_mb("gpt2", 16, True, **overrides)
    expected = estimated_mb("gpt2", 16, False, **overrides) - estimated_mb("gpt2", 16, True, **overrides)
    assert saved > 0
    assert saved == pytest.approx(expected, rel=0.25), (saved, expected)


def test_parameter_state_estimate_matches_measured_growth():
    # 32768 more vocabulary rows of 256: 8.4 M parameters with their gradients and Adam moments
    base = dict(hidden_size=256, num_heads=4, seq_length=LENGTH, num_layers=1, hidden_dropout=0.0,
                embedding_dropout=0.0, attention_dropout=0.0)
    small, large = dict(base, vocab_size=4096), dict(base, vocab_size=36864)
    grown = measured_mb("gpt2", 1, **large) - measured_mb("gpt2", 1, **small)
    expected = estimated_mb("gpt2", 1, **large) - estimated_mb("gpt2", 1, **small)
    assert grown == pytest.approx(expected, rel=0.15), (grown, expected)
