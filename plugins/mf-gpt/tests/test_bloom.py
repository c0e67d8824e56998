"""BLOOM: parity with transformers' BloomForCausalLM, ALiBi, checkpoints, tokenizer, generation."""
import json
from pathlib import Path

import numpy as np
import pytest
import mindspore as ms

from mf import AutoConfig, AutoModel, AutoTokenizer, pipeline
from mf.errors import ConfigError
from mf.weights import load_state_dict, save_state_dict
from mf_gpt import BloomConfig, BloomForCausalLM, BloomTokenizer
from mf_gpt.bloom import alibi_slopes

FIXTURES = Path(__file__).parent / "fixtures"
HF_DIR = FIXTURES / "tiny-bloom"
GOLDEN = np.load(FIXTURES / "tiny_bloom_golden.npz")


@pytest.fixture(scope="module")
def model():
    return AutoModel.from_pretrained(str(HF_DIR))


def test_logits_match_transformers_unpadded_and_left_padded(model):
    """The fixture is bfloat16 shards of a checkpoint saved from BloomModel (no prefix, no lm_head)."""
    assert isinstance(model, BloomForCausalLM)
    logits = model(ms.Tensor(GOLDEN["prompt"].astype(np.int32))).asnumpy()
    np.testing.assert_allclose(logits, GOLDEN["logits"], atol=1e-4, rtol=0)
    mask = GOLDEN["mask"]
    batch = model(ms.Tensor(GOLDEN["batch"].astype(np.int32)), attention_mask=ms.Tensor(mask.astype(np.int32)))
    real = mask.astype(bool)  # padded rows' outputs are never used
    np.testing.assert_allclose(batch.asnumpy()[real], GOLDEN["batch_logits"][real], atol=1e-4, rtol=0)


@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_generation_matches_transformers(model, use_cache):
    out = model.generate(GOLDEN["prompt"].tolist(), max_new_tokens=10, do_sample=False, use_cache=use_cache)
    assert out[0].tolist() == GOLDEN["greedy"][0].tolist()
    batch = model.generate(GOLDEN["batch"], attention_mask=GOLDEN["mask"], max_new_tokens=8, do_sample=False,
                           use_cache=use_cache)
    np.testing.assert_array_equal(batch[:, -8:], GOLDEN["batch_greedy"][:, -8:])


def test_beam_search_cached_equals_uncached(model):
    prompt = GOLDEN["prompt"].tolist()
    cached = model.generate(prompt, max_new_tokens=6, num_beams=3, do_sample=False, use_cache=True)
    uncached = model.generate(prompt, max_new_tokens=6, num_beams=3, do_sample=False, use_cache=False)
    np.testing.assert_array_equal(cached, uncached)


def test_alibi_slopes_for_any_head_count():
    # a power of two: 2^(-8/n), 2^(-16/n), ...
    np.testing.assert_allclose(alibi_slopes(8), [2.0 ** -(i + 1) for i in range(8)])
    # 6 heads: the 4-head series, then every other term of the 8-head series
    np.testing.assert_allclose(alibi_slopes(6), [2.0 ** -2, 2.0 ** -4, 2.0 ** -6, 2.0 ** -8, 2.0 ** -1, 2.0 ** -3])
    assert alibi_slopes(112).shape == (112,) and len(set(alibi_slopes(112).tolist())) == 112


def test_left_padding_does_not_change_a_rows_logits(model):
    """ALiBi counts positions over real tokens only: a left-padded row equals the same tokens alone."""
    row = GOLDEN["batch"][1, 3:]
    alone = model(ms.Tensor(row[None].astype(np.int32))).asnumpy()[0]
    padded = model(ms.Tensor(GOLDEN["batch"].astype(np.int32)),
                   attention_mask=ms.Tensor(GOLDEN["mask"].astype(np.int32))).asnumpy()[1, 3:]
    np.testing.assert_allclose(padded, alone, atol=1e-5, rtol=0)


def test_export_round_trips_to_the_huggingface_layout(model, tmp_path):
    model.save_pretrained(tmp_path / "hf", format="huggingface")
    state, _ = load_state_dict(tmp_path / "hf")
    assert "transformer.h.0.self_attention.query_key_value.weight" in state
    assert "transformer.word_embeddings_layernorm.weight" in state and "lm_head.weight" not in state
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["model_type"] == "bloom" and config["n_layer"] == 2 and config["n_head"] == 6
    # the same weights in float16 on disk, with the prefix: logits within fp16 rounding of the original
    save_state_dict({k: v.astype(np.float16) for k, v in state.items()}, tmp_path / "fp16", "pt")
    (tmp_path / "fp16" / "config.json").write_text(json.dumps(config))
    again = AutoModel.from_pretrained(str(tmp_path / "fp16"))
    ids = ms.Tensor(GOLDEN["prompt"].astype(np.int32))
    np.testing.assert_allclose(again(ids).asnumpy(), GOLDEN["logits"], atol=2e-2, rtol=0)


def test_config_reads_huggingface_names_and_rejects_bad_shapes():
    config = AutoConfig.from_pretrained(str(HF_DIR))
    assert isinstance(config, BloomConfig) and config.num_layers == 2 and config.num_heads == 6
    assert BloomConfig(n_embed=32, n_head=4).hidden_size == 32
    with pytest.raises(ConfigError, match="hidden_size"):
        BloomConfig(hidden_size=50, num_heads=6)
    with pytest.raises(ConfigError, match="layer_norm_epsilon"):
        BloomConfig(layer_norm_epsilon=0.0)


def test_standin_tokenizer_has_blooms_pipeline_and_special_tokens(tmp_path):
    tokenizer = AutoTokenizer.from_pretrained("bloom_tiny")
    assert isinstance(tokenizer, BloomTokenizer)
    assert [tokenizer.unk_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id] == \
        [0, 1, 2, 3]
    assert tokenizer.padding_side == "left"
    for text in ["Hello world, how are you?", "人人生而自由，在尊严和权利上一律平等。", "  two spaces\n\tand tabs 😀"]:
        ids = tokenizer(text)["input_ids"]
        assert 1 not in ids and 2 not in ids  # BLOOM adds no BOS/EOS
        assert tokenizer.decode(ids) == text
    tokenizer.save_pretrained(tmp_path)
    assert (tmp_path / "tokenizer.json").is_file()
    assert AutoTokenizer.from_pretrained(str(tmp_path))("Hello world")["input_ids"] == \
        tokenizer("Hello world")["input_ids"]


def test_pipeline_generates_from_a_saved_tiny_model(tmp_path):
    AutoModel.from_config(AutoConfig.from_pretrained("bloom_tiny")).save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained("bloom_tiny").save_pretrained(tmp_path)
    generator = pipeline("text_generation", model=str(tmp_path))
    [result] = generator("Hello world", max_new_tokens=4, do_sample=False)
    [text] = result["text_generation_text"]
    ids = generator.tokenizer("Hello world")["input_ids"]
    expected = generator.model.generate([ids], max_new_tokens=4, do_sample=False)
    assert text.startswith("Hello world") and text == generator.tokenizer.decode(expected[0], skip_special_tokens=True)


def test_plan_counts_the_published_parameters_and_the_built_model():
    """`mf plan` counts BLOOM-560M's published 559,214,592 parameters (embedding LayerNorm included), and what mf
    builds for the tiny presets of both new families."""
    assert AutoConfig.from_pretrained("bloom_560m").transformer_shape().parameters() == 559_214_592
    for preset in ("bloom_tiny", "pangualpha_tiny"):
        config = AutoConfig.from_pretrained(preset)
        model = AutoModel.from_config(config)
        assert config.transformer_shape().parameters() == sum(p.size for p in model.get_parameters())
