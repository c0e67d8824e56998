"""A tokenizer over UTF-8 bytes (as ByT5's): no vocabulary file, every text encodable.

Ids 0..n-1 are the special tokens (pad, eos, bos, unk by default), then one id per byte value.
New families start with it (`mf plugin new` does) until they have a trained vocabulary.
"""
from pathlib import Path
from typing import List, Optional

from .base import PreTrainedTokenizer


class ByteTokenizer(PreTrainedTokenizer):
    """UTF-8 bytes shifted past the special tokens; vocab_size = specials + 256."""

    vocab_files = {}

    def __init__(self, pad_token="<pad>", eos_token="</s>", bos_token="<s>", unk_token="<unk>", **kwargs):
        super().__init__(pad_token=pad_token, eos_token=eos_token, bos_token=bos_token, unk_token=unk_token,
                         **kwargs)
        self._specials = [t for t in (pad_token, eos_token, bos_token, unk_token) if t is not None]
        self._specials += [t for t in self.additional_special_tokens if t not in self._specials]
        self._offset = len(self._specials)

    @property
    def vocab_size(self) -> int:
        return self._offset + 256

    def _encode_text(self, text: str) -> List[int]:
        return [b + self._offset for b in text.encode("utf-8")]

    def _decode_ids(self, ids: List[int]) -> str:
        pieces, data = [], bytearray()
        for i in ids:
            if i >= self._offset:
                data.append(i - self._offset)
                continue
            pieces.append(data.decode("utf-8", errors="replace"))
            data = bytearray()
            pieces.append(self._specials[i])
        pieces.append(data.decode("utf-8", errors="replace"))
        return "".join(pieces)

    def token_to_id(self, token: str) -> Optional[int]:
        if token in self._specials:
            return self._specials.index(token)
        # a byte's token is the character with that code (as id_to_token writes it)
        return ord(token) + self._offset if len(token) == 1 and ord(token) < 256 else None

    def id_to_token(self, index: int) -> Optional[str]:
        if 0 <= index < self._offset:
            return self._specials[index]
        if self._offset <= index < self.vocab_size:
            return chr(index - self._offset)
        return None

    def save_vocabulary(self, directory: Path) -> List[Path]:
        return []  # the byte vocabulary needs no file
