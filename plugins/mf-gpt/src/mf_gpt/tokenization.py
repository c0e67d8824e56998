"""GPT2Tokenizer: byte-level BPE with GPT-2's own vocabulary (shipped in mf_gpt/data)."""
from importlib import resources

from mf.tokenization import ByteLevelBPETokenizer

ENDOFTEXT = "<|endoftext|>"


def bundled_vocab_files():
    """Paths of the GPT-2 vocabulary shipped with mf-gpt (MIT licence, see data/LICENSE)."""
    data = resources.files("mf_gpt") / "data"
    return {"vocab_file": str(data / "vocab.json"), "merges_file": str(data / "merges.txt")}


class GPT2Tokenizer(ByteLevelBPETokenizer):
    """GPT-2's tokenizer. As in MindFormers, encoding adds <|endoftext|> before and after
    the text (add_bos_token / add_eos_token); pass add_special_tokens=False for bare ids."""

    def __init__(self, vocab_file=None, merges_file=None, bos_token=ENDOFTEXT, eos_token=ENDOFTEXT,
                 unk_token=ENDOFTEXT, pad_token=ENDOFTEXT, add_bos_token=True, add_eos_token=True,
                 model_max_length=1024, **kwargs):
        if vocab_file is None and merges_file is None:
            files = bundled_vocab_files()
            vocab_file, merges_file = files["vocab_file"], files["merges_file"]
        super().__init__(vocab_file, merges_file, bos_token=bos_token, eos_token=eos_token, unk_token=unk_token,
                         pad_token=pad_token, add_bos_token=add_bos_token, add_eos_token=add_eos_token,
                         model_max_length=model_max_length, **kwargs)
