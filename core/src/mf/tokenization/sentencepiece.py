"""Tokenizers whose vocabulary is a SentencePiece model (tokenizer.model), e.g. LLaMA's."""
import re
import shutil
from pathlib import Path
from typing import List, Optional

import sentencepiece as spm

from ..errors import TokenizerError
from .base import PreTrainedTokenizer


class SentencePieceTokenizer(PreTrainedTokenizer):
    """A SentencePiece model with special tokens matched whole in the text.

    Text between special tokens is encoded piece by piece, each piece getting SentencePiece's
    leading-space marker, as transformers' LlamaTokenizer does with legacy=True.
    """

    vocab_files = {"vocab_file": "tokenizer.model"}

    def __init__(self, vocab_file: str, **kwargs):
        if not Path(vocab_file).is_file():
            raise TokenizerError(f"SentencePiece model {vocab_file} does not exist")
        self.vocab_file = str(vocab_file)
        self.sp = spm.SentencePieceProcessor()
        try:
            self.sp.Load(self.vocab_file)
        except (OSError, RuntimeError) as exc:
            raise TokenizerError(f"{vocab_file} is not a SentencePiece model: {exc}") from None
        super().__init__(**kwargs)
        specials = sorted(self.all_special_tokens, key=len, reverse=True)
        self._special_pattern = re.compile("(" + "|".join(map(re.escape, specials)) + ")") if specials else None

    def _encode_span(self, text: str) -> List[int]:
        """Ids of text that holds no special token (a family with its own pre-processing overrides this)."""
        return self.sp.EncodeAsIds(text)

    def _decode_span(self, ids: List[int]) -> str:
        """Text of ids that hold no special token."""
        return self.sp.DecodeIds(ids)

    def _encode_text(self, text: str) -> List[int]:
        if self._special_pattern is None:
            return self._encode_span(text) if text else []
        ids = []
        for part in self._special_pattern.split(text):
            if not part:
                continue
            special = self.token_to_id(part) if part in self.all_special_tokens else None
            ids.extend([special] if special is not None else self._encode_span(part))
        return ids

    def _decode_ids(self, ids: List[int]) -> str:
        # special tokens are written out as text; the pieces between them decode as SentencePiece does
        out, run = [], []
        specials = set(self.all_special_ids)
        for i in ids:
            if i in specials:
                if run:
                    out.append(self._decode_span(run))
                    run = []
                out.append(self.id_to_token(i))
            else:
                run.append(i)
        if run:
            out.append(self._decode_span(run))
        return "".join(out)

    def token_to_id(self, token: str) -> Optional[int]:
        index = self.sp.PieceToId(token)
        return None if index == self.sp.unk_id() and token != self.sp.IdToPiece(index) else index

    def id_to_token(self, index: int) -> Optional[str]:
        if not 0 <= index < self.sp.GetPieceSize():
            return None
        return self.sp.IdToPiece(index)

    @property
    def vocab_size(self) -> int:
        return self.sp.GetPieceSize()

    def save_vocabulary(self, directory: Path):
        target = Path(directory) / self.vocab_files["vocab_file"]  # tokenizer.model, spiece.model, ...
        if Path(self.vocab_file).resolve() != target.resolve():
            shutil.copyfile(self.vocab_file, target)
        return [target]
