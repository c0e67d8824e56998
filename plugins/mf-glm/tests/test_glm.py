"""mf-glm: parity with the GLM-6B reference fixture, checkpoints, 2-D positions, tokenizer, chat, metrics, data."""
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import mindspore as ms

from mf import AutoConfig, AutoModel, AutoTokenizer
from mf.data import load_dataset
from mf.errors import ConfigError, MFError
from mf.nn import IGNORE_INDEX
from mf.weights import load_state_dict, save_state_dict
from mf_glm import ChatGLMTokenizer, GLMConfig, GLMForCausalLM, adgen_scores, build_prompt, process_response
from mf_glm.convert import _qkv_rows
from mf_glm.modeling import glm_positions

SHARED = Path(__file__).resolve().parents[3].parent / "shared"
FIXTURE = SHARED / "fixtures" / "glm-6b-tiny"
CHAT_PAIRS = SHARED / "data" / "instructions" / "chat_pairs_chinese.jsonl"
needs_fixture = pytest.mark.skipif(not FIXTURE.is_dir(), reason=f"the GLM-6B reference fixture is not at {FIXTURE}")
CASES = ("gmask_prompt", "mask_infill")


@pytest.fixture(scope="module")
def reference():
    return GLMForCausalLM.from_pretrained(str(FIXTURE)), json.loads((FIXTURE / "expected.json").read_text())


# ---- parity with the reference (ChatGLM-6B's modeling code, tiny random weights) ----------------------------
@needs_fixture
@pytest.mark.parametrize("case", CASES)
def test_logits_match_the_reference(reference, case):
    model, expected = reference
    ids = np.array([expected[case]["input_ids"]], np.int32)
    logits = model(ms.Tensor(ids)).asnumpy()[0]
    np.testing.assert_allclose(logits, np.load(FIXTURE / f"logits_{case}.npy"), atol=1e-4, rtol=0)


@needs_fixture
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_generation_matches_the_reference(reference, case, use_cache):
    """[gMASK] continuation and [MASK] infilling, with the block position advancing while decoding."""
    model, expected = reference
    output = model.generate(expected[case]["input_ids"], max_new_tokens=12, do_sample=False, use_cache=use_cache)
    assert output[0].tolist() == expected[case]["greedy"]


@needs_fixture
def test_a_left_padded_batch_generates_what_each_prompt_does_alone(reference):
    model, expected = reference
    prompts = [expected[case]["input_ids"] for case in CASES]
    short = prompts[1][2:]  # a shorter prompt: its row is left-padded
    ids = np.full((2, len(prompts[0])), 3, np.int64)
    ids[0], ids[1, 2:] = prompts[0], short
    mask = (np.arange(len(prompts[0]))[None] >= np.array([[0], [2]])).astype(np.int64)
    batch = model.generate(ids, attention_mask=mask, max_new_tokens=6, do_sample=False)
    alone = model.generate([short], max_new_tokens=6, do_sample=False)
    assert batch[0].tolist() == expected["gmask_prompt"]["greedy"][:len(prompts[0]) + 6]
    assert batch[1, 2:].tolist() == alone[0].tolist()


def test_positions_in_the_graph_equal_the_generation_rule():
    """The model's own 2-D positions (computed from the tokens, for training) equal those generation passes,
    for [gMASK], [MASK], both, and plain text without <sop>."""
    config = GLMConfig(vocab_size=50, hidden_size=16, inner_hidden_size=32, num_layers=1, num_heads=2, seq_length=16,
                       bos_token_id=40, eos_token_id=41, mask_token_id=42, gmask_token_id=43, pad_token_id=0)
    model = GLMForCausalLM(config)
    rows = np.array([[5, 6, 43, 7, 40, 8, 9, 10],     # [gMASK] then <sop>
                     [5, 42, 6, 7, 40, 8, 9, 10],     # [MASK] infilling
                     [42, 5, 43, 6, 40, 8, 9, 10],    # both: [gMASK] wins
                     [5, 6, 7, 8, 9, 10, 11, 12]])    # no <sop>: plain positions
    in_graph = model.backbone.default_positions(ms.Tensor(rows.astype(np.int32))).asnumpy()
    host = glm_positions(rows, np.ones_like(rows), config)
    np.testing.assert_array_equal(in_graph, host)
    np.testing.assert_array_equal(host[0], [[0, 1, 2, 3, 2, 2, 2, 2], [0, 0, 0, 0, 1, 2, 3, 4]])
    np.testing.assert_array_equal(host[1, 0], [0, 1, 2, 3, 1, 1, 1, 1])
    np.testing.assert_array_equal(host[2, 0], [0, 1, 2, 3, 2, 2, 2, 2])
    np.testing.assert_array_equal(host[3], [np.arange(8), np.zeros(8)])
    following = model.next_generation_positions(host[:, :, -1])
    np.testing.assert_array_equal(following, [[2, 5], [1, 5], [2, 5], [8, 0]])


def test_the_context_is_seen_in_both_directions():
    """Prefix-LM: changing a later context token changes an earlier one's output; after <sop> it does not."""
    config = GLMConfig(vocab_size=50, hidden_size=16, inner_hidden_size=32, num_layers=1, num_heads=2, seq_length=16,
                       bos_token_id=40, eos_token_id=41, mask_token_id=42, gmask_token_id=43, pad_token_id=0,
                       initializer_range=0.5)
    ms.set_seed(1)
    model = GLMForCausalLM(config)
    base = np.array([[5, 6, 7, 43, 40, 8, 9]], np.int32)
    changed_context, changed_answer = base.copy(), base.copy()
    changed_context[0, 2], changed_answer[0, 6] = 11, 12
    logits = [model(ms.Tensor(x)).asnumpy()[0] for x in (base, changed_context, changed_answer)]
    assert np.abs(logits[1][0] - logits[0][0]).max() > 1e-4   # token 0 sees token 2 (both in the context)
    np.testing.assert_allclose(logits[2][:6], logits[0][:6], atol=1e-6)  # nothing sees a later generated token


# ---- checkpoints ----------------------------------------------------------------------------------------------
def test_query_key_rows_permute_into_mfs_layout_and_back():
    config = GLMConfig(vocab_size=50, hidden_size=32, inner_hidden_size=32, num_layers=1, num_heads=2, seq_length=16)
    weight = np.random.default_rng(0).normal(size=(96, 32)).astype(np.float32)
    inward = _qkv_rows(weight, config, to_interleaved=True)
    np.testing.assert_array_equal(_qkv_rows(inward, config, to_interleaved=False), weight)
    head_dim, quarter = 16, 4
    # a head's query half [a0..a3, b0..b3] becomes [a0, b0, a1, b1, ...]; its values keep their order
    np.testing.assert_array_equal(inward[1], weight[quarter])
    np.testing.assert_array_equal(inward[2 * head_dim:3 * head_dim], weight[2 * head_dim:3 * head_dim])


@needs_fixture
def test_export_and_reload_as_chatglm(reference, tmp_path):
    model, expected = reference
    model.save_pretrained(tmp_path / "hf", format="hf")
    state, fmt = load_state_dict(tmp_path / "hf")
    original, _ = load_state_dict(FIXTURE)
    assert fmt == "pt" and set(state) == set(original)
    for name in original:  # the same tensors as the reference checkpoint (inv_freq included)
        np.testing.assert_allclose(state[name], original[name], atol=1e-7, err_msg=name)
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["model_type"] == "chatglm" and config["num_attention_heads"] == 4
    assert config["max_sequence_length"] == 128 and config["inner_hidden_size"] == 256


def _write_bfloat16(arrays, path):
    """A safetensors file of bfloat16 tensors (numpy has none: the upper halves of float32 bits)."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, value in arrays.items():
        blob = (np.ascontiguousarray(value, np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
        header[name] = {"dtype": "BF16", "shape": list(value.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + b"".join(blobs))


@needs_fixture
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_sharded_half_precision_checkpoints_load(tmp_path, dtype):
    """A ChatGLM-6B checkpoint as published: sharded, fp16 (or bf16) on disk, without the tied-head copy."""
    state, _ = load_state_dict(FIXTURE)
    names = sorted(state)
    halves = {i: {n: state[n] for n in names[i::2]} for i in range(2)}
    files = {}
    for i, part in halves.items():
        path = tmp_path / f"pytorch_model-0000{i + 1}-of-00002.safetensors"
        if dtype == "float16":
            save_state_dict({n: v.astype(np.float16) for n, v in part.items()}, tmp_path / f"s{i}", fmt="pt")
            (tmp_path / f"s{i}" / "model.safetensors").rename(path)
        else:
            _write_bfloat16(part, path)
        files.update({n: path.name for n in part})
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": files}))
    (tmp_path / "config.json").write_text((FIXTURE / "config.json").read_text())
    model = AutoModel.from_pretrained(str(tmp_path))
    assert isinstance(model, GLMForCausalLM)
    loaded = {p.name: p.asnumpy() for p in model.get_parameters()}
    embedding = state["transformer.word_embeddings.weight"]
    if dtype == "float16":
        expected = embedding.astype(np.float16).astype(np.float32)
    else:
        expected = ((embedding.view(np.uint32) >> 16) << 16).view(np.float32)
    np.testing.assert_array_equal(loaded["transformer.word_embeddings.weight"], expected)


def test_bad_configs_name_the_field():
    with pytest.raises(ConfigError, match="quantization_bit"):
        GLMConfig(quantization_bit=4)
    with pytest.raises(ConfigError, match="pre_seq_len"):
        GLMConfig(pre_seq_len=128)
    with pytest.raises(ConfigError, match="divisible by 4"):
        GLMConfig(hidden_size=12, num_heads=2)
    with pytest.raises(ConfigError, match="layernorm_epsilon"):
        GLMConfig(layernorm_epsilon=-1.0)
    assert AutoConfig.from_pretrained("glm_6b").num_layers == 28


def test_presets_have_glm_6bs_shape():
    config = AutoConfig.from_pretrained("glm_6b_lora")
    assert (config.hidden_size, config.num_layers, config.num_heads, config.inner_hidden_size) == (4096, 28, 32, 16384)
    tiny = AutoConfig.from_pretrained("glm_tiny")
    tokenizer = AutoTokenizer.from_pretrained("glm_tiny")
    assert tiny.vocab_size == tokenizer.vocab_size
    assert (tiny.bos_token_id, tiny.eos_token_id, tiny.mask_token_id, tiny.gmask_token_id, tiny.pad_token_id) == (
        tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.mask_token_id, tokenizer.gmask_token_id,
        tokenizer.pad_token_id)


# ---- tokenizer ------------------------------------------------------------------------------------------------
MIXED = ["你好，世界！今天天气很好。", "Hello, GLM: mixed 中文 and English.", "def add(a, b):\n    return a + b\n",
         "\tindented\twith tabs\n\n  two spaces,   three, then a run:" + " " * 90 + "end",
         "数字 12345 和符号 @#%&*", "emoji 😀 and rare 𝔘 characters"]


@pytest.mark.parametrize("text", MIXED)
def test_tokenizer_round_trips_mixed_text(text):
    tokenizer = ChatGLMTokenizer()
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert all(i >= tokenizer.num_image_tokens for i in ids)
    assert tokenizer.decode(ids) == text


def test_tokenizer_keeps_chatglms_layout_of_ids_and_whitespace():
    tokenizer = ChatGLMTokenizer()
    sp = tokenizer.sp
    for token in ("[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>"):
        assert tokenizer.token_to_id(token) == sp.PieceToId(token) + 20000
    assert tokenizer.id_to_token(7) == "<image_7>" and tokenizer.token_to_id("<image_7>") == 7
    assert tokenizer.decode([5, 6]) == ""  # image tokens decode to nothing, as in ChatGLM
    assert tokenizer.tokenize("a\n\tb" + " " * 4 + "c") == ["▁a", "<n>", "<|tab|>", "b", "<|blank_4|>", "c"]
    prompt = tokenizer("你好")["input_ids"]
    assert prompt[-2:] == [tokenizer.gmask_token_id, tokenizer.bos_token_id]
    pair = tokenizer("问", "答")["input_ids"]
    assert pair[-1] == tokenizer.eos_token_id and tokenizer.bos_token_id in pair
    batch = tokenizer(["你好", "你好吗？我很好"], padding=True)
    assert batch["input_ids"][0][0] == tokenizer.pad_token_id  # padded on the left
    assert tokenizer.decode(prompt, skip_special_tokens=True) == "你好"


def test_tokenizer_saves_and_loads(tmp_path):
    tokenizer = ChatGLMTokenizer()
    tokenizer.save_pretrained(tmp_path)
    assert (tmp_path / "ice_text.model").is_file()
    again = ChatGLMTokenizer.from_directory(tmp_path)
    assert again(MIXED[1])["input_ids"] == tokenizer(MIXED[1])["input_ids"]
    assert again.num_image_tokens == 20000 and again.padding_side == "left"


def test_a_model_without_glm_special_tokens_is_refused(tmp_path):
    with pytest.raises(MFError, match="has no piece '<sop>'"):
        ChatGLMTokenizer(vocab_file=str(_plain_model(tmp_path)))


def _plain_model(tmp_path):
    import io

    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(["hello world"] * 50 + ["a b c d e f"] * 50),
                                   model_writer=model, vocab_size=16)
    path = tmp_path / "plain.model"
    path.write_bytes(model.getvalue())
    return path


# ---- chat -----------------------------------------------------------------------------------------------------
def test_chat_prompt_and_response_as_chatglm():
    assert build_prompt("你好") == "你好"
    assert build_prompt("吃了吗", [("你好", "你好！")]) == "[Round 0]\n问：你好\n答：你好！\n[Round 1]\n问：吃了吗\n答："
    assert process_response("  好的,我明白了!你呢?  ") == "好的，我明白了！你呢？"
    assert process_response("ok, fine!") == "ok, fine!"  # only beside Chinese characters


@pytest.fixture(scope="module")
def tiny_chat_model():
    ms.set_seed(0)
    return AutoModel.from_config(AutoConfig.from_pretrained("glm_tiny")), AutoTokenizer.from_pretrained("glm_tiny")


def test_chat_and_stream_chat_answer_alike(tiny_chat_model):
    model, tokenizer = tiny_chat_model
    history = [("你好", "你好！")]
    response, new_history = model.chat(tokenizer, "你是谁", history, do_sample=False, max_new_tokens=6)
    prompt = tokenizer(build_prompt("你是谁", history))["input_ids"]
    generated = model.generate([prompt], do_sample=False, max_new_tokens=6)[0, len(prompt):]
    assert response == process_response(tokenizer.decode(generated.tolist(), skip_special_tokens=True))
    assert new_history == history + [("你是谁", response)]
    streamed = list(model.stream_chat(tokenizer, "你是谁", history, do_sample=False, max_new_tokens=6))
    assert streamed and streamed[-1] == (response, new_history)


# ---- BLEU / ROUGE, checked by hand ----------------------------------------------------------------------------
def test_bleu_and_rouge_against_hand_computed_values():
    # words: hypothesis "the cat sat on the mat", reference "the cat is on the mat". rouge-chinese (as the rouge
    # package it forks) counts distinct n-grams: ROUGE-1 {the, cat, sat, on, mat} vs {the, cat, is, on, mat}:
    # 4 shared of 5 and 5 -> F 4/5; ROUGE-2: 3 shared bigrams of 5 and 5 -> 3/5; ROUGE-L: the longest common
    # subsequence "the cat on the mat", 5 words of 6 and 6 -> 5/6
    scores = adgen_scores(["the cat sat on the mat"], ["the cat is on the mat"])
    assert scores["rouge-1"] == pytest.approx(100 * 4 / 5, abs=1e-4)
    assert scores["rouge-2"] == pytest.approx(100 * 3 / 5, abs=1e-4)
    assert scores["rouge-l"] == pytest.approx(100 * 5 / 6, abs=1e-4)
    # BLEU-4 on characters: "abcd" vs "abce": precisions 3/4, 2/3, 1/2 and 0/1, the zero smoothed by method 3 to
    # 1/(2 * 1); equal lengths, no brevity penalty: (3/4 * 2/3 * 1/2 * 1/2) ** (1/4)
    scores = adgen_scores(["abcd"], ["abce"])
    assert scores["bleu-4"] == pytest.approx(100 * (0.75 * 2 / 3 * 0.5 * 0.5) ** 0.25, abs=1e-6)
    assert adgen_scores(["今天天气很好"], ["今天天气很好"])["bleu-4"] == pytest.approx(100.0)
    empty = adgen_scores(["", "好的"], ["你好", "好的"])  # an empty answer scores 0 and is averaged in
    alone = adgen_scores(["好的"], ["好的"])
    for name in ("bleu-4", "rouge-1", "rouge-l"):
        assert empty[name] == pytest.approx(alone[name] / 2)


# ---- prompt/response data --------------------------------------------------------------------------------------
def test_prompt_response_rows_learn_only_the_response(tmp_path):
    tokenizer = ChatGLMTokenizer()
    data = tmp_path / "adgen.jsonl"
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"content": "类型#裙*颜色#红色", "summary": "这条红色的裙子很好看。"},
        {"content": "类型#上衣", "summary": "简约的上衣。"}]))
    blocks = load_dataset(data, tokenizer=tokenizer, seq_length=64)
    row, labels = blocks.input_ids[0], blocks.labels[0]
    prompt = tokenizer("类型#裙*颜色#红色")["input_ids"]
    answer = tokenizer("这条红色的裙子很好看。", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    assert row[:len(prompt) + len(answer)].tolist() == prompt + answer
    assert (labels[:len(prompt)] == IGNORE_INDEX).all()
    assert labels[len(prompt):len(prompt) + len(answer)].tolist() == answer
    assert (labels[len(prompt) + len(answer):] == IGNORE_INDEX).all()
    assert blocks.pairs[1] == ("类型#上衣", "简约的上衣。")
    # the chat pairs are Alpaca records (instruction, input, output); other names by prompt_column/response_column
    custom = tmp_path / "qa.jsonl"
    custom.write_text(json.dumps({"q": "问题", "a": "回答"}, ensure_ascii=False) + "\n")
    assert load_dataset(custom, tokenizer=tokenizer, seq_length=16, columns=("q", "a")).pairs == [("问题", "回答")]
    with pytest.raises(MFError, match="'ask' and 'a'"):
        load_dataset(custom, tokenizer=tokenizer, seq_length=16, columns=("ask", "a"))


@pytest.mark.skipif(not CHAT_PAIRS.is_file(), reason=f"no {CHAT_PAIRS}")
def test_lora_finetuning_and_bleu_rouge_evaluation(tiny_chat_model, tmp_path):
    """glm_tiny with LoRA on query_key_value: only the adapters train, the loss on the responses falls, and
    evaluate() reports BLEU-4 and ROUGE of the generated answers."""
    from mf import Trainer, TrainingArguments

    lines = CHAT_PAIRS.read_text(encoding="utf-8").splitlines()
    (tmp_path / "train.jsonl").write_text("\n".join(lines[:32]), encoding="utf-8")
    (tmp_path / "eval.jsonl").write_text("\n".join(lines[:8]), encoding="utf-8")
    ms.set_seed(0)
    model = AutoModel.from_config(AutoConfig.from_pretrained("glm_tiny"))
    model.config.name_or_path = "glm_tiny"
    from mf.pet import apply_pet

    apply_pet(model, "lora", r=8, lora_alpha=32, lora_dropout=0.0, target_modules=["query_key_value"])
    trainable = [p.name for p in model.trainable_params()]
    assert trainable and all("lora" in name for name in trainable)
    args = TrainingArguments(output_dir=str(tmp_path / "out"), num_train_epochs=6, batch_size=8, learning_rate=3e-2,
                             seq_length=48, save_steps=0, plot_loss=False, per_device_eval_batch_size=8,
                             generation_max_length=8, logging_steps=4)
    trainer = Trainer(task="text_generation", model=model, tokenizer=AutoTokenizer.from_pretrained("glm_tiny"),
                      args=args, train_dataset=str(tmp_path / "train.jsonl"), eval_dataset=str(tmp_path / "eval.jsonl"))
    before = trainer.evaluate()
    trainer.train()
    after = trainer.evaluate()
    # a random base model moves slowly under LoRA (its head and embeddings are frozen): benchmarks/glm_chat_lora.py
    # adapts a pre-trained one and measures BLEU / ROUGE
    assert after["eval_loss"] < before["eval_loss"] - 0.05
    assert {"eval_bleu-4", "eval_rouge-1", "eval_rouge-2", "eval_rouge-l", "eval_gen_len"} <= set(after)
