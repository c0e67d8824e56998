"""Every family's golden tests also pass on MindSpore's own ops (MF_KERNELS=0): the fallback each fused
kernel keeps is what runs on Ascend/GPU and wherever no C++ compiler exists (issue 19, item 11)."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

GOLDEN_TESTS = [
    "plugins/mf-gpt/tests/test_modeling.py::test_logits_match_transformers",
    "plugins/mf-gpt/tests/test_modeling.py::test_loss_matches_transformers",
    "plugins/mf-gpt/tests/test_generation.py::test_left_padded_batch_matches_transformers",
    "plugins/mf-gpt/tests/test_bloom.py::test_logits_match_transformers_unpadded_and_left_padded",
    "plugins/mf-gpt/tests/test_pangualpha.py::test_logits_match_the_port_unpadded_and_left_padded",
    "plugins/mf-llama/tests/test_llama.py::test_logits_match_transformers",
    "plugins/mf-bert/tests/test_bert.py::test_every_head_matches_transformers",
    "plugins/mf-bert/tests/test_bert.py::test_pretraining_heads_match_transformers_and_sum_their_losses",
    "plugins/mf-t5/tests/test_t5.py::test_encoder_states_logits_and_loss_match_transformers",
    "plugins/mf-vision/tests/test_vision.py::test_logits_and_hidden_states_match_transformers",
    "plugins/mf-vision/tests/test_clip_mae.py::test_clip_matches_transformers",
    "plugins/mf-glm/tests/test_glm.py::test_logits_match_the_reference",
]


def test_golden_tests_pass_with_the_fused_kernels_off():
    env = {**os.environ, "MF_KERNELS": "0"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                          *GOLDEN_TESTS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-2000:]
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary, summary
