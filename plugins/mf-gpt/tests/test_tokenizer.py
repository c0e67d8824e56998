"""GPT2Tokenizer against the reference GPT-2 tokenizer, and the tutorial's examples."""
import json
from pathlib import Path

import pytest
import mindspore as ms

from mf import AutoProcessor, AutoTokenizer, GPT2Processor, GPT2Tokenizer

GOLDEN = json.loads((Path(__file__).parent / "fixtures" / "tokenizer_golden.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tok():
    return GPT2Tokenizer.from_pretrained("gpt2")


@pytest.mark.parametrize("case", GOLDEN, ids=lambda c: repr(c["text"][:24]))
def test_ids_equal_the_reference_tokenizer(tok, case):
    assert tok.encode(case["text"], add_special_tokens=False) == case["ids"]


@pytest.mark.parametrize("case", GOLDEN, ids=lambda c: repr(c["text"][:24]))
def test_decode_inverts_encode(tok, case):
    assert tok.decode(tok.encode(case["text"], add_special_tokens=False)) == case["text"]


def test_known_ids_from_openai_vocabulary(tok):
    assert tok.encode("hello!", add_special_tokens=False) == [31373, 0]
    assert tok.encode("Hello world", add_special_tokens=False) == [15496, 995]
    assert len(tok) == 50257


def test_tutorial_autotokenizer_example():
    assert AutoTokenizer.from_pretrained("gpt2")("hello!") == {
        "input_ids": [50256, 31373, 0, 50256], "token_type_ids": [0, 0, 0, 0], "attention_mask": [1, 1, 1, 1]}


def test_tutorial_processor_examples(tok):
    out = AutoProcessor.from_pretrained("gpt2")("hello!")
    assert list(out) == ["text"] and out["text"].shape == (1, 128) and out["text"].dtype == ms.int32
    assert out["text"].asnumpy()[0, :4].tolist() == [50256, 31373, 0, 50256]
    assert (out["text"].asnumpy()[0, 4:] == 50256).all()
    custom = GPT2Processor(tokenizer=tok, max_length=256, return_tensors="ms")("hello!")
    assert custom["text"].shape == (1, 256)
    assert GPT2Processor.from_pretrained("gpt2")("hello!")["text"].shape == (1, 128)


def test_processor_save_and_load(tok, tmp_path):
    processor = GPT2Processor(tokenizer=tok, max_length=32)
    processor.save_pretrained(tmp_path)
    again = AutoProcessor.from_pretrained(str(tmp_path))
    assert type(again) is GPT2Processor and again.max_length == 32
    assert (again("hello!")["text"].asnumpy() == processor("hello!")["text"].asnumpy()).all()


def test_tokenizer_save_and_autoload(tok, tmp_path):
    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(str(tmp_path))
    assert type(again) is GPT2Tokenizer
    assert again("I love Beijing, because") == tok("I love Beijing, because")


def test_batch_decode(tok):
    batch = tok(["hello!", "Hello world"], padding=True, return_tensors="ms")
    assert tok.batch_decode(batch["input_ids"], skip_special_tokens=True) == ["hello!", "Hello world"]
