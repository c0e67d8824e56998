"""A long-lived pipeline (a server's) takes bad requests between good ones (issue 19, item 4): each bad one is
refused with an mf error naming the problem, and every later good request gives exactly the first answer."""
import numpy as np
import pytest
import mindspore as ms

from mf import AutoConfig, AutoTokenizer, BertForMaskedLM, GPT2Config, GPT2LMHeadModel, pipeline
from mf.errors import MFError

BAD_GENERATION_REQUESTS = [
    ("a lone surrogate", ("broken \ud800 text",), {}),
    ("not text", (42,), {}),
    ("a list holding a non-string", (["fine", None],), {}),
    ("negative max_new_tokens", ("Hello",), {"max_new_tokens": -1}),
    ("max_new_tokens past the context", ("Hello",), {"max_new_tokens": 10 ** 9}),
    ("top_p above 1", ("Hello",), {"top_p": 1.5, "do_sample": True}),
    ("temperature 0 with sampling", ("Hello",), {"temperature": 0.0, "do_sample": True}),
    ("no beams", ("Hello",), {"num_beams": 0}),
    ("an unknown option", ("Hello",), {"max_new_tokenz": 3}),
]


@pytest.fixture(scope="module")
def generator():
    ms.set_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=50257, hidden_size=32, num_layers=1, num_heads=2, seq_length=64))
    model.set_train(False)
    return pipeline("text_generation", model=model, tokenizer=AutoTokenizer.from_pretrained("gpt2"))


def test_bad_generation_requests_are_refused_and_good_ones_still_answer(generator):
    first = generator("Hello world", max_new_tokens=5, do_sample=False)
    for what, args, kwargs in BAD_GENERATION_REQUESTS:
        with pytest.raises(MFError):
            generator(*args, **kwargs)
        assert generator("Hello world", max_new_tokens=5, do_sample=False) == first, f"after {what}"
    model = generator.model
    for bad_ids in ([[50257]], [[-1]], [[3, 2 ** 40]]):
        with pytest.raises(MFError, match="outside the vocabulary|vocabulary"):
            model.generate(np.array(bad_ids, dtype=np.int64), max_new_tokens=2)
        assert generator("Hello world", max_new_tokens=5, do_sample=False) == first, f"after ids {bad_ids}"


def test_bad_fill_mask_requests_are_refused_and_good_ones_still_answer():
    ms.set_seed(0)
    model = BertForMaskedLM(AutoConfig.from_pretrained("bert_tiny", hidden_dropout=0.0, attention_dropout=0.0))
    model.set_train(False)
    fill = pipeline("fill_mask", model=model, tokenizer=AutoTokenizer.from_pretrained("bert_base_uncased"))
    first = fill("the cat [MASK] on the mat.", top_k=3)
    for args, kwargs in [(("no mask here",), {}), (("the [MASK]",), {"top_k": 0}), (("\udfff [MASK]",), {}),
                         ((None,), {}), (([],), {}), (("the [MASK]",), {"max_length": 10 ** 6})]:
        with pytest.raises(MFError):
            fill(*args, **kwargs)
        assert fill("the cat [MASK] on the mat.", top_k=3) == first
    # longer than the model's 128 positions: truncated to them (as the tokenizer's own limit would), not a crash
    [masks] = fill("[MASK] " * 600, top_k=1)
    assert len(masks) == 126  # the masks that fit between [CLS] and [SEP] in 128 positions
    assert fill("the cat [MASK] on the mat.", top_k=3) == first
