"""BloomTokenizer: BLOOM's byte-level BPE from tokenizer.json; no BOS/EOS added, left padding (as BLOOM's)."""
from importlib import resources

from mf.tokenization.backend import TokenizerJsonTokenizer


def bundled_tokenizer_file() -> str:
    """The stand-in BLOOM tokenizer shipped with mf-gpt (tools/make_bloom_standin_tokenizer.py): BLOOM's
    pipeline and special tokens with a 6000-token vocabulary trained on the shared texts."""
    return str(resources.files("mf_gpt") / "data" / "bloom_standin_tokenizer.json")


class BloomTokenizer(TokenizerJsonTokenizer):
    def __init__(self, tokenizer_file=None, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
                 padding_side="left", add_bos_token=False, add_eos_token=False, model_max_length=2048, **kwargs):
        super().__init__(tokenizer_file or bundled_tokenizer_file(), bos_token=bos_token, eos_token=eos_token,
                         unk_token=unk_token, pad_token=pad_token, padding_side=padding_side,
                         add_bos_token=add_bos_token, add_eos_token=add_eos_token,
                         model_max_length=model_max_length, **kwargs)
