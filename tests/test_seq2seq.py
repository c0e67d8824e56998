"""Sequence-to-sequence pieces of core: BLEU and chrF as sacreBLEU reports them, and the tutorial's
`pipeline("translation", model="t5_small")` fetching the preset's weights and vocabulary from the Hub
(served here by a local stand-in endpoint with a tiny checkpoint under google-t5/t5-small's name)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mf.metrics import MetricError, bleu, chrf

sys.path.insert(0, str(Path(__file__).parent))  # the test helper beside this file (pytest's importlib mode)
from hub_server import HubServer  # noqa: E402


# sacreBLEU's README example: two reference streams
HYPOTHESES = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
REFERENCES = [["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
              ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."]]


def test_bleu_and_chrf_are_sacrebleus_published_values():
    per_hypothesis = [list(alternatives) for alternatives in zip(*REFERENCES)]
    scores = bleu(HYPOTHESES, per_hypothesis)
    # "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)", "chrF2 = 59.73"
    assert round(scores["bleu"], 2) == 48.53
    assert [round(scores[f"precision_{n}"], 1) for n in range(1, 5)] == [82.4, 50.0, 45.5, 37.5]
    assert round(scores["brevity_penalty"], 3) == 0.943 and (scores["hyp_len"], scores["ref_len"]) == (17, 18)
    assert round(chrf(HYPOTHESES, per_hypothesis), 2) == 59.73
    # one reference each: strings are accepted as they are
    assert bleu(HYPOTHESES, REFERENCES[0])["bleu"] == pytest.approx(bleu(HYPOTHESES, [[r] for r in REFERENCES[0]])["bleu"])
    assert bleu(["a b c d e"], ["a b c d e"])["bleu"] == pytest.approx(100.0)


def test_bleu_refuses_mismatched_inputs():
    with pytest.raises(MetricError, match="2 predictions for 1 references"):
        bleu(["a", "b"], ["a"])
    with pytest.raises(MetricError, match="same number"):
        bleu(["a", "b"], [["a"], ["b", "c"]])
    with pytest.raises(MetricError, match="score text"):
        chrf([1], ["a"])


def test_t5_small_pipeline_fetches_weights_and_vocabulary_from_the_hub(tmp_path):
    pytest.importorskip("mf_t5")
    from mf_t5 import T5Config, T5ForConditionalGeneration
    from mf_t5.tokenization import bundled_spiece_model

    # a tiny T5 under t5-small's repository, with the bundled vocabulary standing in for Google's spiece.model
    repo = tmp_path / "t5-small"
    T5ForConditionalGeneration(T5Config(vocab_size=8100, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4)
                               ).save_pretrained(repo, format="huggingface")
    shutil.copyfile(bundled_spiece_model(), repo / "spiece.model")
    code = ("import warnings; warnings.filterwarnings('error', message='.*stand-in')\n"
            "from mf import pipeline\n"
            "translator = pipeline('translation', model='t5_small')\n"
            "print(type(translator.model).__name__, len(translator.tokenizer))\n"
            "print(translator('All human beings are born free.', src_lang='en', tgt_lang='de', max_new_tokens=4))\n")
    with HubServer({"google-t5/t5-small": repo}) as hub:
        env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0", "HF_HOME": str(tmp_path / "hf"),
               "MF_HOME": str(tmp_path / "mf"), "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "T5ForConditionalGeneration 8100" in result.stdout and "translation_text" in result.stdout
