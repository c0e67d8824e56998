"""The encoder pipelines on BERT: feature_extraction on the real all-MiniLM-L6-v2 (transformers' numbers on
the same weights), fill_mask and text_classification on random tiny models (their numbers against the
model's own logits)."""
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from mindspore import Tensor

from mf import AutoConfig, AutoTokenizer, pipeline
from mf_bert import BertForMaskedLM, BertForSequenceClassification

FIXTURES = Path(__file__).parent / "fixtures"
MINILM = Path(os.environ.get("MF_TESTDATA", "~/.cache/mf-testdata")).expanduser() / "minilm"
FETCH = Path(__file__).resolve().parents[4] / "shared" / "data" / "scripts" / "fetch-large.sh"


@pytest.fixture(scope="module")
def minilm():
    if not (MINILM / "model.safetensors").is_file():
        if not FETCH.is_file():
            pytest.skip(f"MiniLM is not in {MINILM} and the fetch script {FETCH} is not here")
        result = subprocess.run(["bash", str(FETCH), str(MINILM.parent), "minilm"], capture_output=True, text=True,
                                timeout=900)
        if result.returncode != 0 or not (MINILM / "model.safetensors").is_file():
            pytest.skip(f"MiniLM could not be fetched: {result.stderr.strip()[-300:]}")
    return MINILM


@pytest.mark.slow
def test_feature_extraction_on_minilm_matches_transformers(minilm):
    golden = json.loads((FIXTURES / "minilm_golden.json").read_text())
    embed = pipeline("feature_extraction", model=str(minilm))
    vectors = np.stack(embed(golden["sentences"]))  # one padded batch of different lengths
    assert type(embed.model).__name__ == "BertModel"
    np.testing.assert_allclose(vectors @ vectors.T, np.array(golden["cosines"]), atol=1e-4)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    alone = embed("eating food")[0]  # without padding in the batch, the same vector
    np.testing.assert_allclose(alone, vectors[0], atol=1e-5)


def _tiny(cls, **overrides):
    import mindspore as ms

    ms.set_seed(0)
    model = cls(AutoConfig.from_pretrained("bert_tiny", hidden_dropout=0.0, attention_dropout=0.0, **overrides))
    model.set_train(False)
    return model


def test_fill_mask_ranks_the_mask_tokens_by_the_models_probabilities():
    model = _tiny(BertForMaskedLM)
    tokenizer = AutoTokenizer.from_pretrained("bert_base_uncased")
    fill = pipeline("fill_mask", model=model, tokenizer=tokenizer)
    [candidates] = fill(["the cat [MASK] on the mat."], top_k=3)
    ids = tokenizer("the cat [MASK] on the mat.")["input_ids"]
    logits = model(Tensor(np.array([ids], np.int32))).asnumpy()[0, ids.index(tokenizer.mask_token_id)]
    probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert [c["token"] for c in candidates] == list(np.argsort(-probabilities)[:3])
    for candidate in candidates:
        assert candidate["score"] == pytest.approx(float(probabilities[candidate["token"]]), rel=1e-4)
        filled = [candidate["token"] if i == tokenizer.mask_token_id else i for i in ids]
        assert candidate["sequence"] == tokenizer.decode(filled, skip_special_tokens=True)
        assert candidate["token_str"] == tokenizer.decode([candidate["token"]]).strip()
    with pytest.raises(Exception, match=r"no \[MASK\]"):
        fill("no mask here")


def test_text_classification_labels_and_scores():
    model = _tiny(BertForSequenceClassification, id2label={"0": "ham", "1": "spam", "2": "other"})
    tokenizer = AutoTokenizer.from_pretrained("bert_base_uncased")
    classify = pipeline("text_classification", model=model, tokenizer=tokenizer)
    texts = ["win a free prize now", ("is this spam?", "no, a letter")]
    results = classify(texts)
    every = classify(texts, top_k=None)
    for text, best, ranked in zip(texts, results, every):
        a, b = text if isinstance(text, tuple) else (text, None)
        encoded = tokenizer(a, b)
        logits = model(Tensor(np.array([encoded["input_ids"]], np.int32)), None,
                       Tensor(np.array([encoded["token_type_ids"]], np.int32))).asnumpy()[0]
        probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        assert best["label"] == ["ham", "spam", "other"][int(probabilities.argmax())]
        assert best["score"] == pytest.approx(float(probabilities.max()), rel=1e-4)
        assert [r["label"] for r in ranked] == [["ham", "spam", "other"][i] for i in np.argsort(-probabilities)]
        assert sum(r["score"] for r in ranked) == pytest.approx(1.0, abs=1e-5)
    # transformers' pair form gives the same answer as the tuple
    [as_dict] = classify({"text": "is this spam?", "text_pair": "no, a letter"})
    assert as_dict["label"] == results[1]["label"] and as_dict["score"] == pytest.approx(results[1]["score"], rel=1e-5)
