"""LlamaTokenizer: SentencePiece with LLaMA's special tokens; BOS is added, EOS is not."""
from importlib import resources

from mf.tokenization import SentencePieceTokenizer


def bundled_tokenizer_model() -> str:
    """A LLaMA-style SentencePiece model shipped with mf-llama (Apache-2.0, see data/LICENSE)."""
    return str(resources.files("mf_llama") / "data" / "tokenizer.model")


class LlamaTokenizer(SentencePieceTokenizer):
    def __init__(self, vocab_file=None, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token=None,
                 add_bos_token=True, add_eos_token=False, model_max_length=2048, **kwargs):
        super().__init__(vocab_file or bundled_tokenizer_model(), bos_token=bos_token, eos_token=eos_token,
                         unk_token=unk_token, pad_token=pad_token, add_bos_token=add_bos_token,
                         add_eos_token=add_eos_token, model_max_length=model_max_length, **kwargs)
