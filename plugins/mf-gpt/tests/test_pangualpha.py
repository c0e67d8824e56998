"""PanGu-Alpha: parity with the Hugging Face port's modeling code, both checkpoint namings, the tokenizer."""
import json
from pathlib import Path

import numpy as np
import pytest
import mindspore as ms
from safetensors.numpy import load_file, save_file

from mf import AutoConfig, AutoModel, AutoProcessor, AutoTokenizer
from mf.errors import ConfigError, WeightsError
from mf_gpt import PanguAlphaConfig, PanguAlphaHeadModel, PanguAlphaProcessor, PanguAlphaTokenizer

FIXTURES = Path(__file__).parent / "fixtures"
PORT_DIR = FIXTURES / "tiny-pangu"
GOLDEN = np.load(FIXTURES / "tiny_pangu_golden.npz")


@pytest.fixture(scope="module")
def model():
    return AutoModel.from_pretrained(str(PORT_DIR))


def _port_positions(mask):
    """The port's positions for a left-padded batch: cumsum(mask) - 1, 1 at padding."""
    positions = np.cumsum(mask, -1) - 1
    positions[mask == 0] = 1
    return positions.astype(np.int32)


def _logits(model, ids, mask=None):
    if mask is None:
        return model(ms.Tensor(ids.astype(np.int32))).asnumpy()
    return model(ms.Tensor(ids.astype(np.int32)), attention_mask=ms.Tensor(mask.astype(np.int32)),
                 position_ids=ms.Tensor(_port_positions(mask))).asnumpy()


def test_logits_match_the_port_unpadded_and_left_padded(model):
    assert isinstance(model, PanguAlphaHeadModel) and model.config.hidden_act == "gelu"
    np.testing.assert_allclose(_logits(model, GOLDEN["prompt"]), GOLDEN["logits"], atol=1e-4, rtol=0)
    real = GOLDEN["mask"].astype(bool)
    np.testing.assert_allclose(_logits(model, GOLDEN["batch"], GOLDEN["mask"])[real], GOLDEN["batch_logits"][real],
                               atol=1e-4, rtol=0)


@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_generation_matches_the_port(model, use_cache):
    out = model.generate(GOLDEN["prompt"].tolist(), max_new_tokens=10, do_sample=False, use_cache=use_cache)
    assert out[0].tolist() == GOLDEN["greedy"][0].tolist()
    batch = model.generate(GOLDEN["batch"], attention_mask=GOLDEN["mask"], max_new_tokens=8, do_sample=False,
                           use_cache=use_cache)
    np.testing.assert_array_equal(batch[:, -8:], GOLDEN["batch_greedy"][:, -8:])


def test_the_top_query_layer_queries_with_the_query_embedding(model):
    """Changing the query table changes the logits; its rows are read by position (not by token)."""
    ids = ms.Tensor(GOLDEN["prompt"].astype(np.int32))
    before = model(ids).asnumpy()
    table = model.transformer.wqe.weight
    saved = table.asnumpy().copy()
    try:
        changed = saved.copy()
        changed[5] += 1.0
        table.set_data(ms.Tensor(changed))
        after = model(ids).asnumpy()
    finally:
        table.set_data(ms.Tensor(saved))
    differs = np.abs(after - before).max(axis=-1)[0]
    assert differs[5] > 1e-3 and differs[np.arange(10) != 5].max() < 1e-6


def _mindformers_state(port_state, num_layers):
    """The port's tensors under MindFormers' PanguAlphaHeadModel names and layouts (as its .ckpt holds them)."""
    port_state = {(k if k.startswith("transformer.") else "transformer." + k): v for k, v in port_state.items()}
    out = {"backbone.embedding.word_embedding.embedding_table": port_state["transformer.wte.weight"],
           "backbone.embedding.position_embedding.embedding_table": port_state["transformer.wpe.weight"],
           "backbone.top_query_embedding.embedding_table": port_state["transformer.wqe.weight"],
           "backbone.layernorm.gamma": port_state["transformer.ln_f.weight"],
           "backbone.layernorm.beta": port_state["transformer.ln_f.bias"],
           "adam_m.backbone.layernorm.gamma": np.zeros_like(port_state["transformer.ln_f.weight"]),
           "global_step": np.array([100], np.int32)}
    names = {"ln_1.weight": "layernorm1.gamma", "ln_1.bias": "layernorm1.beta", "ln_2.weight": "layernorm2.gamma",
             "ln_2.bias": "layernorm2.beta", "attn.q_proj": "attention.dense1", "attn.k_proj": "attention.dense2",
             "attn.v_proj": "attention.dense3", "attn.c_proj": "attention.projection",
             "mlp.c_fc": "output.mapping", "mlp.c_proj": "output.projection"}
    for layer in range(num_layers):
        prefix = "backbone.top_query_layer" if layer == num_layers - 1 else f"backbone.blocks.{layer}"
        for name, value in port_state.items():
            if not name.startswith(f"transformer.h.{layer}.") or name.endswith(("attn.bias", "attn.masked_bias")):
                continue
            rest = name[len(f"transformer.h.{layer}."):]
            for port_name, mf_name in names.items():
                if rest.startswith(port_name):
                    target = mf_name + rest[len(port_name):]
                    if target.endswith("weight") and target.split(".")[-2] in ("projection", "mapping"):
                        value = value.T  # MindFormers keeps these matrices [in, out]
                    out[f"{prefix}.{target}"] = np.ascontiguousarray(value)
    return out


@pytest.mark.parametrize("file_format", ["safetensors", "ckpt"])
def test_mindformers_checkpoints_load_to_the_same_model(model, tmp_path, file_format):
    """MindFormers' names and layouts, as safetensors or as the MindSpore .ckpt MindFormers saves (with its
    optimizer state and step counter, which are skipped)."""
    state = _mindformers_state(load_file(str(PORT_DIR / "model.safetensors")), 3)
    if file_format == "ckpt":
        ms.save_checkpoint([{"name": name, "data": ms.Tensor(value)} for name, value in state.items()],
                           str(tmp_path / "pangualpha.ckpt"))
    else:
        save_file(state, str(tmp_path / "model.safetensors"))
    config = json.loads((PORT_DIR / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps(
        {"model_type": "pangualpha", "vocab_size": 300, "seq_length": 64, "hidden_size": 48, "num_layers": 3,
         "num_heads": 4, "hidden_act": config["activation_function"]}))
    mindformers = AutoModel.from_pretrained(str(tmp_path))
    np.testing.assert_allclose(_logits(mindformers, GOLDEN["prompt"]), GOLDEN["logits"], atol=1e-4, rtol=0)


def test_a_damaged_mindspore_checkpoint_is_named(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "pangualpha", "vocab_size": 300,
                                                      "seq_length": 64, "hidden_size": 48, "num_layers": 3,
                                                      "num_heads": 4}))
    (tmp_path / "pangualpha.ckpt").write_bytes(b"\x0a\x05broken")
    with pytest.raises(WeightsError, match="pangualpha.ckpt"):
        AutoModel.from_pretrained(str(tmp_path))


def test_export_writes_the_ports_layout(model, tmp_path):
    model.save_pretrained(tmp_path, format="huggingface")
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "gpt_pangu" and config["max_position_embeddings"] == 64
    assert config["activation_function"] == "gelu"
    state = load_file(str(tmp_path / "model.safetensors"))
    assert "transformer.h.2.attn.q_proj.weight" in state and "transformer.wqe.weight" in state
    np.testing.assert_allclose(_logits(AutoModel.from_pretrained(str(tmp_path)), GOLDEN["prompt"]), GOLDEN["logits"],
                               atol=1e-4, rtol=0)


def test_config_names_and_errors():
    assert isinstance(AutoConfig.from_pretrained("pangualpha_2_6b"), PanguAlphaConfig)
    config = PanguAlphaConfig(max_position_embeddings=128, intermediate_size=100, activation_function="quick_gelu")
    assert (config.seq_length, config.inner_size, config.hidden_act) == (128, 100, "fast_gelu")
    assert PanguAlphaConfig(hidden_act="fast_gelu").to_hf_dict()["activation_function"] == "quick_gelu"
    with pytest.raises(ConfigError, match="num_layers"):
        PanguAlphaConfig(num_layers=0)
    with pytest.raises(ConfigError, match="hidden_size"):
        PanguAlphaConfig(hidden_size=50, num_heads=4)


def test_tokenizer_segments_with_jieba_and_maps_spaces_and_newlines(tmp_path):
    tokenizer = AutoTokenizer.from_pretrained("pangualpha_tiny")
    assert isinstance(tokenizer, PanguAlphaTokenizer)
    assert (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (6, 8, 0)
    for text in ["床前明月光，疑是地上霜。", "今天天气不错。\n我们去 公园 散步吧！", "PanGu-Alpha 2.6B model"]:
        ids = tokenizer(text)["input_ids"]
        assert tokenizer.decode(ids) == text
    # spaces and newlines are PanGu's stand-in pieces, not SentencePiece's word boundaries
    ids = tokenizer("月 光\n")["input_ids"]
    assert tokenizer.token_to_id("\u2582") in ids and tokenizer.token_to_id("\u2583") in ids
    assert tokenizer("春眠不觉晓<eod>")["input_ids"][-1] == 8
    tokenizer.save_pretrained(tmp_path)
    assert (tmp_path / "vocab.model").is_file()
    assert AutoTokenizer.from_pretrained(str(tmp_path))("处处闻啼鸟")["input_ids"] == tokenizer("处处闻啼鸟")["input_ids"]


def test_processor_pads_to_max_length():
    processor = AutoProcessor.from_pretrained("pangualpha_tiny")
    assert isinstance(processor, PanguAlphaProcessor)
    out = processor("白日依山尽")
    ids = out["text"].asnumpy().reshape(-1)
    assert ids.shape == (128,) and (ids == 6).sum() > 100
