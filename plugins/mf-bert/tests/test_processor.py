"""AutoProcessor for every BERT name: the tensors a BERT model takes, padded to max_length."""
import numpy as np
import pytest

from mf import AutoProcessor
from mf_bert import BertProcessor

NAMES = ["bert_base_uncased", "txtcls_bert_base_uncased", "txtcls_bert_base_uncased_mnli", "tokcls_bert_base_chinese",
         "tokcls_bert_base_chinese_cluener", "qa_bert_base_uncased", "qa_bert_base_chinese_uncased"]


@pytest.mark.parametrize("name", NAMES)
def test_every_tutorial_name_has_a_processor(name):
    processor = AutoProcessor.from_pretrained(name)
    assert isinstance(processor, BertProcessor)
    out = processor(["Hello 世界", "a second, longer sentence"], text_pair=["x", "y"])
    ids = out["text"].asnumpy()
    assert ids.shape == (2, 128) and (ids[:, 0] == processor.tokenizer.cls_token_id).all()
    lengths = [len(processor.tokenizer(a, b)["input_ids"]) for a, b in (("Hello 世界", "x"),
                                                                         ("a second, longer sentence", "y"))]
    assert out["attention_mask"].asnumpy().sum(1).tolist() == lengths
    assert np.asarray(out["token_type_ids"].asnumpy()).max() == 1


def test_processor_round_trip(tmp_path):
    processor = AutoProcessor.from_pretrained("tokcls_bert_base_chinese_cluener")
    processor.max_length = 16
    processor.save_pretrained(tmp_path)
    again = AutoProcessor.from_pretrained(str(tmp_path))
    assert again.max_length == 16 and again("北京")["text"].shape == (1, 16)
    assert again.tokenizer.do_lower_case is False
