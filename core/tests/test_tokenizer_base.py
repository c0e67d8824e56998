"""The tokenizer base class on a small byte-level BPE trained here."""
import numpy as np
import pytest
import mindspore as ms
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from mf.errors import TokenizerError
from mf.tokenization import ByteLevelBPETokenizer

TEXT = ["the cat sat on the mat", "the dog ate the cat's food", "a cat and a dog"] * 20


@pytest.fixture(scope="module")
def vocab_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("bpe")
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    backend.train_from_iterator(TEXT, trainer)
    backend.model.save(str(directory))
    return directory


@pytest.fixture
def tok(vocab_dir):
    return ByteLevelBPETokenizer(str(vocab_dir / "vocab.json"), str(vocab_dir / "merges.txt"),
                                 bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                 add_bos_token=True, add_eos_token=True, model_max_length=16)


def test_special_tokens_surround_the_text_and_round_trip(tok):
    out = tok("the cat")
    assert out["input_ids"][0] == tok.bos_token_id and out["input_ids"][-1] == tok.eos_token_id
    assert out["attention_mask"] == [1] * len(out["input_ids"])
    assert tok.decode(out["input_ids"], skip_special_tokens=True) == "the cat"
    assert tok.decode(tok.encode("the cat", add_special_tokens=False)) == "the cat"


def test_padding_longest_and_max_length_both_sides(tok):
    batch = tok(["the cat", "a dog and a cat sat"], padding=True)
    lengths = {len(ids) for ids in batch["input_ids"]}
    assert len(lengths) == 1
    assert batch["input_ids"][0][-1] == tok.pad_token_id and batch["attention_mask"][0][-1] == 0
    left = tok(["the cat"], padding="max_length", max_length=10, padding_side="left")
    n = len(tok("the cat")["input_ids"])
    assert left["input_ids"][0] == [tok.pad_token_id] * (10 - n) + tok("the cat")["input_ids"]
    assert left["attention_mask"][0] == [0] * (10 - n) + [1] * n


def test_truncation_keeps_special_tokens(tok):
    out = tok("the cat sat on the mat the dog ate the food", truncation=True, max_length=5)
    assert len(out["input_ids"]) == 5
    assert out["input_ids"][0] == tok.bos_token_id and out["input_ids"][-1] == tok.eos_token_id
    with pytest.raises(TokenizerError, match="leaves no room for the special tokens"):
        tok("the cat", truncation=True, max_length=1)


def test_tensors(tok):
    ms_out = tok(["the cat", "a dog"], padding="max_length", max_length=8, return_tensors="ms")
    assert isinstance(ms_out["input_ids"], ms.Tensor) and ms_out["input_ids"].shape == (2, 8)
    assert ms_out["input_ids"].dtype == ms.int32
    np_out = tok("the cat", return_tensors="np")
    assert np_out["input_ids"].shape == (1, len(tok("the cat")["input_ids"]))
    with pytest.raises(TokenizerError, match="pass padding=True"):
        tok(["the cat", "a dog and a cat"], return_tensors="np")


def test_pair_gets_token_type_ids(tok):
    out = tok("the cat", "a dog")
    first = len(tok("the cat")["input_ids"])
    assert out["token_type_ids"] == [0] * first + [1] * (len(out["input_ids"]) - first)


def test_bad_arguments(tok):
    with pytest.raises(TokenizerError, match="expected text"):
        tok(42)
    with pytest.raises(TokenizerError, match="padding must be"):
        tok("x", padding="sideways")
    with pytest.raises(TypeError, match="unexpected arguments: colour"):
        tok("x", colour="red")
    with pytest.raises(TokenizerError, match="decode takes one sequence"):
        tok.decode(np.zeros((2, 3), dtype=np.int64))


def test_save_and_load(tok, tmp_path):
    tok.save_pretrained(tmp_path)
    again = ByteLevelBPETokenizer.from_directory(tmp_path)
    assert again("the dog ate") == tok("the dog ate")
    assert again.pad_token == "<pad>" and again.model_max_length == 16 and again.add_bos_token


def test_missing_vocabulary_file(tmp_path):
    with pytest.raises(TokenizerError, match="lacks vocab.json, merges.txt"):
        ByteLevelBPETokenizer.from_directory(tmp_path)


def test_a_lone_surrogate_is_a_clear_error_for_every_kind_of_tokenizer():
    from mf import AutoTokenizer
    from mf.tokenization.base import TokenizerError

    for name in ("gpt2", "llama_tiny", "bert_tiny"):
        tokenizer = AutoTokenizer.from_pretrained(name)
        with pytest.raises(TokenizerError, match="lone surrogate '\\\\ud800' at character 2"):
            tokenizer("ab\ud800cd")
        if name != "bert_tiny":  # a surrogate *pair* is ordinary text (BERT's vocabulary has no emoji)
            ids = tokenizer("ab\U0001F600cd", add_special_tokens=False)["input_ids"]
            assert tokenizer.decode(ids) == "ab\U0001F600cd"


@pytest.mark.parametrize("template, message", [
    ("{% for m in messages %}{{ m.content }", "chat template failed: TemplateSyntaxError"),
    ("{{ raise_exception('only user and assistant roles') }}", "only user and assistant roles"),
    ("{{ 'x' * 100000000 }}", "beyond the output limit"),
    ("{{ 10 ** 100000 }}", "power above 1000"),
    ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "recurses without end"),
    ("{{ messages[0].content.upper() }}{{ messages[5].content }}", "chat template"),
    ("{% for i in range(10) %}{{ messages[0].content * 2000000 }}{% endfor %}", "chat template"),
])
def test_a_bad_chat_template_is_a_tokenizer_error(template, message):
    from mf import AutoTokenizer
    from mf.tokenization.base import TokenizerError

    tokenizer = AutoTokenizer.from_pretrained("gpt2")
    with pytest.raises(TokenizerError, match=message):
        tokenizer.apply_chat_template([{"role": "user", "content": "hello"}], chat_template=template, tokenize=False)
    assert tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                         chat_template="{{ messages[0].content }}") == "hi"
