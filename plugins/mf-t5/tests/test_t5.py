"""T5 against transformers: encoder states, logits and loss on tiny random v1.0 and v1.1 checkpoints
(a right-padded source included), greedy and beam outputs token for token, cached = uncached decoding,
checkpoints with and without the tied copies of the embedding, and the tokenizer's ids
(fixtures/make_fixtures.py made the golden files with transformers 5.24 on PyTorch)."""
import json
from pathlib import Path

import numpy as np
import pytest
from mindspore import Tensor

from mf import AutoConfig, AutoModel, AutoTokenizer
from mf.errors import MFError
from mf.generation import GenerationError
from mf_t5 import T5Config, T5ForConditionalGeneration, T5Model, T5Tokenizer
from mf_t5.modeling import relative_position_buckets

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = np.load(FIXTURES / "tiny_t5_golden.npz")
VERSIONS = ["v1_0", "v1_1"]
SOURCES, SOURCE_MASK = GOLDEN["input_ids"], GOLDEN["attention_mask"]


def load(version, cls=T5ForConditionalGeneration):
    model = cls.from_pretrained(str(FIXTURES / f"tiny-t5-{version.replace('_', '-')}"))
    model.set_train(False)
    return model


def ids(array):
    return Tensor(np.asarray(array).astype(np.int32))


@pytest.fixture(scope="module", params=VERSIONS)
def golden_model(request):
    return request.param, load(request.param)


def test_encoder_states_logits_and_loss_match_transformers(golden_model):
    version, model = golden_model
    mask = Tensor(SOURCE_MASK.astype(np.float32))
    states = model.get_encoder_states(ids(SOURCES), mask).asnumpy()
    real = SOURCE_MASK.astype(bool)  # padded positions' states are not defined by the model
    np.testing.assert_allclose(states[real], GOLDEN[f"{version}/encoder_states"][real], atol=1e-4, rtol=1e-5)
    loss, logits = model(ids(SOURCES), mask, ids(GOLDEN["decoder_input_ids"]), None, ids(GOLDEN["labels"]))
    np.testing.assert_allclose(logits.asnumpy(), GOLDEN[f"{version}/logits"], atol=1e-4, rtol=1e-5)
    assert abs(float(loss.asnumpy()) - float(GOLDEN[f"{version}/loss"])) < 1e-4
    # without decoder inputs the decoder reads the labels shifted right (ignored labels read as padding)
    shifted_loss, _ = model(ids(SOURCES), mask, None, None, ids(GOLDEN["labels"]))
    assert abs(float(shifted_loss.asnumpy()) - float(GOLDEN[f"{version}/loss"])) < 1e-4


def test_greedy_and_beam_search_match_transformers_token_for_token(golden_model):
    version, model = golden_model
    greedy = model.generate(SOURCES, attention_mask=SOURCE_MASK, max_new_tokens=12)
    np.testing.assert_array_equal(greedy, GOLDEN[f"{version}/greedy"])
    beam = model.generate(SOURCES, attention_mask=SOURCE_MASK, max_new_tokens=12, num_beams=3,
                          num_return_sequences=2)
    np.testing.assert_array_equal(beam, GOLDEN[f"{version}/beam"])


def test_cached_and_uncached_decoding_agree_for_greedy_and_beam(golden_model):
    version, model = golden_model
    for options in ({}, {"num_beams": 3}):
        cached = model.generate(SOURCES, attention_mask=SOURCE_MASK, max_new_tokens=12, **options)
        uncached = model.generate(SOURCES, attention_mask=SOURCE_MASK, max_new_tokens=12, use_cache=False, **options)
        np.testing.assert_array_equal(cached, uncached)


def test_a_source_gives_the_same_tokens_alone_and_padded_in_a_batch():
    model = load("v1_1")
    alone = model.generate(SOURCES[1:, :15], max_new_tokens=12)
    np.testing.assert_array_equal(alone[0], GOLDEN["v1_1/greedy"][1])
    # padding on the left is equally masked (relative positions between real tokens do not change)
    left = np.concatenate([np.zeros((1, 9), np.int64), SOURCES[1:, :15]], axis=1)
    left_mask = np.concatenate([np.zeros((1, 9), np.int64), np.ones((1, 15), np.int64)], axis=1)
    np.testing.assert_array_equal(model.generate(left, attention_mask=left_mask, max_new_tokens=12)[0],
                                  GOLDEN["v1_1/greedy"][1])


def test_sampling_is_reproducible_from_a_seed_and_stops_at_eos():
    model = load("v1_1")
    first = model.generate(SOURCES, attention_mask=SOURCE_MASK, do_sample=True, top_k=20, seed=3, max_new_tokens=8)
    again = model.generate(SOURCES, attention_mask=SOURCE_MASK, do_sample=True, top_k=20, seed=3, max_new_tokens=8)
    np.testing.assert_array_equal(first, again)
    assert first.shape == (2, 9) and (first[:, 0] == 0).all()
    # with </s> forced by a one-token budget the generation ends; max_length counts the start token
    assert model.generate(SOURCES, attention_mask=SOURCE_MASK, max_length=4).shape == (2, 4)


def test_generate_refuses_an_empty_source():
    model = load("v1_0")
    with pytest.raises(GenerationError, match="empty"):
        model.generate(np.zeros((1, 0), np.int64))


def test_base_model_gives_the_decoders_hidden_states():
    base = load("v1_1", T5Model)
    full = load("v1_1")
    mask = Tensor(SOURCE_MASK.astype(np.float32))
    hidden = base(ids(SOURCES), mask, ids(GOLDEN["decoder_input_ids"])).asnumpy()
    assert hidden.shape == GOLDEN["decoder_input_ids"].shape + (32,)
    logits = full.logits(Tensor(hidden)).asnumpy()
    np.testing.assert_allclose(logits, GOLDEN["v1_1/logits"], atol=1e-4, rtol=1e-5)


def test_relative_position_buckets_follow_t5():
    # bidirectional, 32 buckets, max distance 128 (t5-small's encoder): exact buckets up to 7 tokens away,
    # keys after the query in the upper half, everything beyond 128 in the last bucket
    table = relative_position_buckets(True, 32, 128)
    bucket = {r: int(table[r + 128]) for r in (-128, -20, -7, -1, 0, 1, 7, 8, 20, 128)}
    assert bucket == {-128: 15, -20: 10, -7: 7, -1: 1, 0: 0, 1: 17, 7: 23, 8: 24, 20: 26, 128: 31}
    causal = relative_position_buckets(False, 32, 128)
    assert (causal[128:] == 0).all() and causal[128 - 15] == 15 and causal[0] == 31


@pytest.mark.parametrize("version", VERSIONS)
def test_huggingface_export_round_trips_with_the_tied_copies(version, tmp_path):
    from safetensors.numpy import load_file

    model = load(version)
    model.save_pretrained(tmp_path, format="huggingface")
    tensors = load_file(str(tmp_path / "model.safetensors"))
    # every copy of the embedding a Hugging Face reader may look for is written
    for name in ("shared.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"):
        assert name in tensors
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "t5" and config["d_model"] == 32 and config["num_heads"] == 4
    assert config["tie_word_embeddings"] is (version == "v1_0")
    assert config["is_gated_act"] is (version == "v1_1")
    again = AutoModel.from_pretrained(str(tmp_path))
    assert isinstance(again, T5ForConditionalGeneration)
    np.testing.assert_array_equal(again.generate(SOURCES, attention_mask=SOURCE_MASK, max_new_tokens=12),
                                  GOLDEN[f"{version}/greedy"])


def test_a_transformers_5_config_keeps_v1_1s_unscaled_head(tmp_path):
    # transformers 5 ties every T5 head and records v1.1's missing scale as scale_decoder_outputs=false
    import shutil

    shutil.copytree(FIXTURES / "tiny-t5-v1-1", tmp_path / "ckpt")
    config = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    config.update(tie_word_embeddings=True, scale_decoder_outputs=False)
    (tmp_path / "ckpt" / "config.json").write_text(json.dumps(config))
    model = T5ForConditionalGeneration.from_pretrained(str(tmp_path / "ckpt"))
    assert model.tied and model.output_scale == 1.0


def test_bad_config_values_are_named():
    with pytest.raises(MFError, match="feed_forward_proj"):
        T5Config(feed_forward_proj="swiglu")
    with pytest.raises(MFError, match="d_kv"):
        T5Config(d_kv=0)
    assert T5Config(num_layers=3).num_decoder_layers == 3
    assert T5Config(hidden_size=128).d_model == 128


# ---- tokenizer -------------------------------------------------------------------------------
TOKENIZER_GOLDEN = json.loads((FIXTURES / "tokenizer_golden.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tokenizer():
    return T5Tokenizer()


@pytest.mark.parametrize("case", TOKENIZER_GOLDEN["cases"], ids=lambda c: c["text"][:24] or "empty")
def test_tokenizer_matches_transformers(tokenizer, case):
    ids = tokenizer(case["text"])["input_ids"]
    assert ids == case["ids"]
    assert tokenizer.convert_ids_to_tokens(ids) == case["tokens"]
    assert tokenizer.decode(ids) == case["decoded"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == case["decoded_clean"]


def test_tokenizer_pads_and_truncates_as_transformers(tokenizer):
    texts = [case["text"] for case in TOKENIZER_GOLDEN["cases"][:3]]
    batch = tokenizer(texts, padding=True, truncation=True, max_length=16)
    assert batch["input_ids"] == TOKENIZER_GOLDEN["batch"]["input_ids"]
    assert batch["attention_mask"] == TOKENIZER_GOLDEN["batch"]["attention_mask"]
    assert len(tokenizer) == TOKENIZER_GOLDEN["vocab_size"] == 8100


def test_sentinels_take_the_last_ids_and_survive_save_and_load(tokenizer, tmp_path):
    assert tokenizer.convert_tokens_to_ids("<extra_id_0>") == 8099
    assert tokenizer.convert_tokens_to_ids("<extra_id_99>") == 8000
    assert tokenizer.convert_ids_to_tokens(8000) == "<extra_id_99>"
    assert tokenizer.convert_tokens_to_ids("<extra_id_100>") is None  # not in the vocabulary (mf: None)
    tokenizer.save_pretrained(tmp_path)
    assert (tmp_path / "spiece.model").is_file()
    again = AutoTokenizer.from_pretrained(str(tmp_path))
    assert isinstance(again, T5Tokenizer) and len(again) == 8100
    text = "The <extra_id_0> walks in <extra_id_1> park"
    assert again(text)["input_ids"] == tokenizer(text)["input_ids"]


@pytest.mark.parametrize("version", VERSIONS)
def test_parameter_count_counts_the_built_model(version):
    model = load(version)
    assert model.config.parameter_count() == model.num_parameters()


def test_a_published_presets_tokenizer_is_its_repositorys_and_says_when_it_cannot_be():
    # tests never reach the Hub (HF_HUB_OFFLINE): the stand-in is used, and the user is told its ids differ
    with pytest.warns(UserWarning, match="stand-in vocabulary, whose ids do not match google-t5/t5-small"):
        tokenizer = AutoTokenizer.from_pretrained("t5_small")
    assert isinstance(tokenizer, T5Tokenizer) and len(tokenizer) == 8100


def test_t5_small_preset_is_the_tutorials_model():
    config = AutoConfig.from_pretrained("t5_small")
    assert (config.d_model, config.num_layers, config.num_heads, config.vocab_size) == (512, 6, 8, 32128)
    assert config.feed_forward_proj == "relu" and config.tie_word_embeddings
    assert AutoConfig.from_pretrained("t5_v1_1_small").gated
    assert 60e6 < config.parameter_count() < 61e6  # t5-small's 60.5M


def test_auto_processor_gives_ids_mask_and_labels_the_model_takes():
    from mf import AutoProcessor
    from mf_t5 import T5Processor

    processor = AutoProcessor.from_pretrained("t5_tiny", max_length=12)
    assert isinstance(processor, T5Processor)
    out = processor(["All human beings are born free.", "Hi"], text_target=["Alle Menschen", "Hallo"])
    tokenizer = T5Tokenizer()
    assert out["text"].shape == (2, 12) and out["attention_mask"].asnumpy()[1].sum() == len(tokenizer("Hi")["input_ids"])
    labels = out["labels"].asnumpy()
    assert labels[1].tolist()[:len(tokenizer("Hallo")["input_ids"])] == tokenizer("Hallo")["input_ids"]
    assert (labels[1, len(tokenizer("Hallo")["input_ids"]):] == -100).all()
