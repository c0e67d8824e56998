"""Tokenizers whose vocabulary algorithm is the Hugging Face `tokenizers` library.

`tokenizers` is the reference implementation of byte-level BPE, WordPiece and
the tokenizer.json format, so mf wraps it instead of writing those again.
"""
from pathlib import Path
from typing import List, Optional

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

from ..errors import TokenizerError
from .base import PreTrainedTokenizer


class BackendTokenizer(PreTrainedTokenizer):
    """A tokenizer whose encode/decode is a `tokenizers.Tokenizer` (self.backend)."""

    def __init__(self, backend: Tokenizer, **kwargs):
        super().__init__(**kwargs)
        self.backend = backend
        # Special tokens are matched whole in the text, never split by the model.
        self.backend.add_special_tokens(
            [AddedToken(t, special=True, normalized=False) for t in self.all_special_tokens])

    def _encode_text(self, text: str) -> List[int]:
        return self.backend.encode(text, add_special_tokens=False).ids

    def _decode_ids(self, ids: List[int]) -> str:
        return self.backend.decode(ids, skip_special_tokens=False)

    def _encode_with_offsets(self, text: str):
        encoding = self.backend.encode(text, add_special_tokens=False)
        return encoding.ids, [tuple(span) for span in encoding.offsets]

    def tokenize_with_offsets(self, text: str):
        encoding = self.backend.encode(text, add_special_tokens=False)
        return encoding.ids, [tuple(span) for span in encoding.offsets], list(encoding.word_ids)

    def encode_words(self, words):
        if not words:
            return [], []
        encoding = self.backend.encode(list(words), is_pretokenized=True, add_special_tokens=False)
        return encoding.ids, list(encoding.word_ids)

    def token_to_id(self, token: str) -> Optional[int]:
        return self.backend.token_to_id(token)

    def id_to_token(self, index: int) -> Optional[str]:
        return self.backend.id_to_token(index)

    @property
    def vocab_size(self) -> int:
        return self.backend.get_vocab_size(with_added_tokens=True)

    def get_vocab(self):
        return self.backend.get_vocab(with_added_tokens=True)


class ByteLevelBPETokenizer(BackendTokenizer):
    """GPT-2 style byte-level BPE from vocab.json and merges.txt."""

    vocab_files = {"vocab_file": "vocab.json", "merges_file": "merges.txt"}

    def __init__(self, vocab_file: str, merges_file: str, add_prefix_space: bool = False, **kwargs):
        for path in (vocab_file, merges_file):
            if not Path(path).is_file():
                raise TokenizerError(f"tokenizer file {path} does not exist")
        try:
            backend = Tokenizer(models.BPE.from_file(str(vocab_file), str(merges_file)))
        except Exception as exc:
            raise TokenizerError(f"cannot read BPE files {vocab_file} and {merges_file}: {exc}") from None
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
        backend.decoder = decoders.ByteLevel()
        self.vocab_file, self.merges_file = str(vocab_file), str(merges_file)
        self.add_prefix_space = add_prefix_space
        super().__init__(backend, **kwargs)

    def tokenizer_config(self):
        return {**super().tokenizer_config(), "add_prefix_space": self.add_prefix_space}


class TokenizerJsonTokenizer(BackendTokenizer):
    """A tokenizer saved as tokenizer.json (the format of transformers' fast tokenizers).

    The file carries the whole pipeline (normaliser, pre-tokenizer, model, decoder); special
    tokens and BOS/EOS behaviour come from tokenizer_config.json as usual.
    """

    vocab_files = {"tokenizer_file": "tokenizer.json"}

    def __init__(self, tokenizer_file: str, **kwargs):
        if not Path(tokenizer_file).is_file():
            raise TokenizerError(f"tokenizer file {tokenizer_file} does not exist")
        try:
            backend = Tokenizer.from_file(str(tokenizer_file))
        except Exception as exc:
            raise TokenizerError(f"{tokenizer_file} is not a tokenizers JSON file: {exc}") from None
        # mf adds BOS/EOS itself (add_bos_token / add_eos_token), so the file's template is not applied
        self.tokenizer_file = str(tokenizer_file)
        super().__init__(backend, **kwargs)
