"""BERT against transformers: every head on a tiny random checkpoint (padding and token types
included), checkpoint round trips, and the WordPiece tokenizer on English and Chinese text."""
import json
from pathlib import Path

import numpy as np
import pytest
from mindspore import Tensor

from mf import AutoModel, AutoTokenizer
from mf.errors import MFError
from mf_bert import (BertForMaskedLM, BertForQuestionAnswering, BertForSequenceClassification,
                     BertForTokenClassification, BertModel, BertTokenizer)

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = np.load(FIXTURES / "tiny_bert_golden.npz")
INPUTS = [Tensor(GOLDEN[name].astype(np.int32)) for name in ("input_ids", "attention_mask", "token_type_ids")]
HEADS = {"masked_lm": BertForMaskedLM, "sequence_classification": BertForSequenceClassification,
         "token_classification": BertForTokenClassification, "question_answering": BertForQuestionAnswering}


def load(head, cls=None):
    model = (cls or AutoModel).from_pretrained(str(FIXTURES / f"tiny-bert-{head}"))
    model.set_train(False)
    return model


@pytest.mark.parametrize("head", list(HEADS))
def test_every_head_matches_transformers(head):
    model = load(head, HEADS[head])
    out = model(*INPUTS)
    if head == "question_answering":
        start, end = out
        np.testing.assert_allclose(start.asnumpy(), GOLDEN["question_answering_start"], atol=1e-4, rtol=0)
        np.testing.assert_allclose(end.asnumpy(), GOLDEN["question_answering_end"], atol=1e-4, rtol=0)
    else:
        np.testing.assert_allclose(out.asnumpy(), GOLDEN[head], atol=1e-4, rtol=0)


def test_pretraining_heads_match_transformers_and_sum_their_losses():
    from mf_bert import BertForPreTraining

    model = BertForPreTraining.from_pretrained(str(FIXTURES / "tiny-bert-pretraining"))
    model.set_train(False)
    mlm, nsp = model(*INPUTS)
    np.testing.assert_allclose(mlm.asnumpy(), GOLDEN["pretraining_mlm"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(nsp.asnumpy(), GOLDEN["pretraining_nsp"], atol=1e-4, rtol=0)
    labels = np.full(GOLDEN["input_ids"].shape, -100, np.int32)
    labels[:, 3] = GOLDEN["input_ids"][:, 3]
    loss, _, _ = model(*INPUTS, Tensor(labels), Tensor(np.array([0, 1], np.int32)))

    def cross_entropy(logits, targets):
        logits = logits - logits.max(-1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        return -np.mean(log_p[np.arange(len(targets)), targets])

    expected = cross_entropy(GOLDEN["pretraining_mlm"][:, 3], labels[:, 3]) + \
        cross_entropy(GOLDEN["pretraining_nsp"], np.array([0, 1]))
    assert abs(float(loss.asnumpy()) - expected) < 1e-4


def test_automodel_returns_the_head_that_architectures_names():
    for head, cls in HEADS.items():
        assert type(load(head)) is cls


def test_a_task_head_starts_from_an_encoder_checkpoint():
    """A classifier from the masked-LM checkpoint: the encoder is loaded, the new head keeps its fresh
    initialisation with a warning (as transformers does); a checkpoint of another shape is still an error."""
    masked = load("masked_lm", BertForMaskedLM)
    with pytest.warns(UserWarning, match=r"no classifier\.weight, classifier\.bias.*random initialisation"):
        tagger = BertForTokenClassification.from_pretrained(str(FIXTURES / "tiny-bert-masked_lm"))
    np.testing.assert_array_equal(tagger.state_dict()["bert.embeddings.word_embeddings.weight"],
                                  masked.state_dict()["bert.embeddings.word_embeddings.weight"])
    with pytest.warns(UserWarning, match="bert.pooler.dense.weight"):
        BertForSequenceClassification.from_pretrained(str(FIXTURES / "tiny-bert-masked_lm"))
    with pytest.warns(UserWarning, match="qa_outputs"):
        BertForQuestionAnswering.from_pretrained(str(FIXTURES / "tiny-bert-masked_lm"))
    encoder = BertModel.from_pretrained(str(FIXTURES / "tiny-bert-sequence_classification"))
    classifier = load("sequence_classification", BertForSequenceClassification)
    np.testing.assert_array_equal(encoder.state_dict()["pooler.dense.weight"],
                                  classifier.state_dict()["bert.pooler.dense.weight"])
    with pytest.raises(Exception, match="mis-shaped"):
        BertForSequenceClassification.from_pretrained(str(FIXTURES / "tiny-bert-masked_lm"), hidden_size=64,
                                                      intermediate_size=64)


def test_loading_draws_no_initial_values_but_a_new_head_gets_those_of_a_normal_build():
    """from_pretrained builds without drawing initial values (the checkpoint replaces them); a head the
    checkpoint lacks gets the values a normal build draws from the same seed, not leftover memory."""
    import threading

    import mindspore as ms
    from mf.modeling import initial_values_skipped

    ms.set_seed(7)
    config = BertForTokenClassification.config_class.from_json_file(FIXTURES / "tiny-bert-masked_lm" / "config.json")
    normal = BertForTokenClassification(config).state_dict()["classifier.weight"]
    ms.set_seed(7)
    with pytest.warns(UserWarning, match="random initialisation"):
        tagger = BertForTokenClassification.from_pretrained(str(FIXTURES / "tiny-bert-masked_lm"))
    np.testing.assert_array_equal(tagger.state_dict()["classifier.weight"], normal)
    assert 0.005 < float(normal.std()) < 0.1  # a real draw (initializer_range 0.02), not zeros
    with initial_values_skipped():  # another thread's builds still draw
        other = []
        thread = threading.Thread(target=lambda: other.append(BertForTokenClassification(config).state_dict()))
        thread.start()
        thread.join()
    assert 0.005 < float(other[0]["classifier.weight"].std()) < 0.1


def test_losses_follow_the_labels():
    model = load("masked_lm", BertForMaskedLM)
    labels = np.full(GOLDEN["input_ids"].shape, -100, np.int32)
    labels[0, 3] = 7
    loss, logits = model(*INPUTS, Tensor(labels))
    logits = logits.asnumpy()[0, 3].astype(np.float64)
    expected = np.log(np.exp(logits - logits.max()).sum()) + logits.max() - logits[7]
    assert float(loss.asnumpy()) == pytest.approx(expected, rel=1e-4)
    qa = load("question_answering", BertForQuestionAnswering)
    loss, start, end = qa(*INPUTS, Tensor(np.array([1, 2], np.int32)), Tensor(np.array([3, 4], np.int32)))
    assert np.isfinite(float(loss.asnumpy())) and start.shape == (2, 12)


def test_huggingface_round_trip_keeps_the_tied_decoder(tmp_path):
    model = load("masked_lm", BertForMaskedLM)
    model.save_pretrained(tmp_path, format="huggingface")
    from safetensors.numpy import load_file

    saved = load_file(str(tmp_path / "model.safetensors"))
    np.testing.assert_array_equal(saved["cls.predictions.decoder.weight"],
                                  saved["bert.embeddings.word_embeddings.weight"])
    again = BertForMaskedLM.from_pretrained(str(tmp_path))
    again.set_train(False)
    np.testing.assert_array_equal(again(*INPUTS).asnumpy(), model(*INPUTS).asnumpy())


def test_original_google_layer_norm_names_load(tmp_path):
    from safetensors.numpy import load_file, save_file
    import shutil

    source = FIXTURES / "tiny-bert-masked_lm"
    shutil.copy(source / "config.json", tmp_path)
    tensors = load_file(str(source / "model.safetensors"))
    renamed = {name.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): value
               for name, value in tensors.items()}
    save_file(renamed, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    model = BertForMaskedLM.from_pretrained(str(tmp_path))
    model.set_train(False)
    np.testing.assert_allclose(model(*INPUTS).asnumpy(), GOLDEN["masked_lm"], atol=1e-4, rtol=0)


TOKENIZER_GOLDEN = json.loads((FIXTURES / "tokenizer_golden.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("variant", ["uncased", "chinese"])
def test_tokenizer_matches_bert_tokenizer_fast(variant):
    from mf_bert.tokenization import bundled_vocab_file

    tokenizer = BertTokenizer(vocab_file=bundled_vocab_file(variant), do_lower_case=variant == "uncased")
    def same(encoded, case):
        assert encoded["input_ids"] == case["input_ids"], case
        assert encoded["token_type_ids"] == case["token_type_ids"], case
        assert [list(span) for span in encoded["offset_mapping"]] == case["offsets"], case

    for case in TOKENIZER_GOLDEN[variant]["texts"]:
        same(tokenizer(case["text"], return_offsets_mapping=True), case)
    for case in TOKENIZER_GOLDEN[variant]["pairs"]:
        same(tokenizer(case["a"], case["b"], return_offsets_mapping=True), case)
    for case in TOKENIZER_GOLDEN[variant]["truncated"]:
        same(tokenizer(case["a"], case["b"], truncation=case["strategy"], max_length=case["max_length"],
                       return_offsets_mapping=True), case)
    for case in TOKENIZER_GOLDEN[variant]["words"]:
        assert tokenizer.encode_words(case["words"]) == (case["input_ids"], case["word_ids"])


def test_preset_tokenizers():
    assert AutoTokenizer.from_pretrained("bert_base_uncased")("hello world!")["input_ids"] == [101, 7592, 2088, 999, 102]
    chinese = AutoTokenizer.from_pretrained("tokcls_bert_base_chinese")
    assert chinese("北京")["input_ids"][0] == 101 and len(chinese("北京")["input_ids"]) == 4


def test_transformer_shape_counts_the_encoder():
    from mf_bert import BertConfig, BertModel

    config = BertConfig(hidden_size=48, num_layers=3, num_heads=4, intermediate_size=96, seq_length=40,
                        type_vocab_size=3, vocab_size=500)
    assert config.transformer_shape().parameters() == BertModel(config, add_pooling_layer=False).num_parameters()


def test_a_directory_with_only_tokenizer_json_loads_as_bert_tokenizer(tmp_path):
    """transformers' fast tokenizers may ship tokenizer.json without vocab.txt."""
    tokenizer = AutoTokenizer.from_pretrained("bert_base_uncased")
    tokenizer.backend.save(str(tmp_path / "tokenizer.json"))
    (tmp_path / "tokenizer_config.json").write_text('{"tokenizer_class": "BertTokenizerFast", "do_lower_case": true}')
    again = AutoTokenizer.from_pretrained(str(tmp_path))
    assert isinstance(again, BertTokenizer)
    text = "Héllo, wörld! 北京 [MASK] unaffable"
    assert again(text, "pair")["input_ids"] == tokenizer(text, "pair")["input_ids"]
    again.save_pretrained(tmp_path / "saved")  # writes vocab.txt from the vocabulary
    assert (tmp_path / "saved" / "vocab.txt").read_text(encoding="utf-8").splitlines()[:3] == ["[PAD]", "[unused0]",
                                                                                              "[unused1]"]
    bad = tmp_path / "bpe"
    bad.mkdir()
    (bad / "tokenizer.json").write_text('{"model": {"type": "BPE", "vocab": {}}}')
    with pytest.raises(MFError, match="holds a BPE model, not the WordPiece vocabulary"):
        BertTokenizer(tokenizer_file=str(bad / "tokenizer.json"))
