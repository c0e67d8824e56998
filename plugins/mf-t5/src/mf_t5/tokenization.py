"""T5Tokenizer: SentencePiece unigram with </s> appended and 100 sentinel tokens, as transformers'.

The sentinels <extra_id_0> .. <extra_id_99> (span corruption's placeholders) take the ids after the
SentencePiece pieces, <extra_id_0> the last of them. Text is split on special tokens and each part
encoded by SentencePiece; </s> ends every sequence (and each of a pair).
"""
import re
import warnings
from importlib import resources
from typing import List, Optional

from mf.tokenization import SentencePieceTokenizer

_SENTINEL = re.compile(r"<extra_id_(\d+)>")


def bundled_spiece_model() -> str:
    """The stand-in T5-layout SentencePiece model shipped with mf-t5 (8000 pieces trained on the UDHR and
    two English novels; scripts/train_spiece.py): Google's T5 vocabulary cannot be had offline."""
    return str(resources.files("mf_t5") / "data" / "spiece.model")


def _hub_vocabulary(repo):
    """spiece.model of a preset's Hub repository, or None (then the bundled stand-in, with a warning)."""
    from mf.errors import MFError
    from mf.hub import fetch

    try:
        path = fetch(repo, weights=False) / "spiece.model"
        if path.is_file():
            return str(path)
        problem = f"{repo} has no spiece.model"
    except MFError as exc:
        problem = str(exc)
    warnings.warn(f"T5Tokenizer: {problem}. Using mf-t5's bundled stand-in vocabulary, whose ids do not match "
                  f"{repo}'s weights: load the tokenizer from a directory with its spiece.model for real text",
                  stacklevel=3)
    return None


class T5Tokenizer(SentencePieceTokenizer):
    vocab_files = {"vocab_file": "spiece.model"}
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(self, vocab_file=None, eos_token="</s>", unk_token="<unk>", pad_token="<pad>", extra_ids=100,
                 additional_special_tokens=None, model_max_length=512, add_eos_token=True, hub_repo=None, **kwargs):
        if vocab_file is None and hub_repo:
            vocab_file = _hub_vocabulary(hub_repo)
        self.extra_ids = int(extra_ids)
        sentinels = [f"<extra_id_{i}>" for i in range(self.extra_ids)]
        extra = [t for t in (additional_special_tokens or []) if t not in sentinels]
        kwargs.pop("legacy", None)  # transformers' switch for text after special tokens; mf's behaviour is fixed
        super().__init__(vocab_file or bundled_spiece_model(), eos_token=eos_token, unk_token=unk_token,
                         pad_token=pad_token, additional_special_tokens=sentinels + extra,
                         model_max_length=model_max_length, add_eos_token=add_eos_token, **kwargs)

    # ---- ids: SentencePiece's pieces, then the sentinels in reverse -----------------------
    @property
    def vocab_size(self) -> int:
        return self.sp.GetPieceSize() + self.extra_ids

    def token_to_id(self, token: str) -> Optional[int]:
        match = _SENTINEL.fullmatch(token)
        if match and int(match.group(1)) < self.extra_ids:
            return self.vocab_size - 1 - int(match.group(1))
        return super().token_to_id(token)

    def id_to_token(self, index: int) -> Optional[str]:
        pieces = self.sp.GetPieceSize()
        if pieces <= index < self.vocab_size:
            return f"<extra_id_{self.vocab_size - 1 - index}>"
        return super().id_to_token(index)

    # ---- text ----------------------------------------------------------------------------
    def build_inputs_with_special_tokens(self, ids: List[int], pair_ids: Optional[List[int]] = None) -> List[int]:
        eos = [self.eos_token_id] if self.add_eos_token else []
        out = ids + eos
        if pair_ids is not None:
            out += pair_ids + eos
        return out

    def create_token_type_ids(self, ids, pair_ids=None):
        return [0] * len(self.build_inputs_with_special_tokens(ids, pair_ids))  # T5 has no token types

    def _decode_ids(self, ids: List[int]) -> str:
        # as transformers: special tokens written out, and a run of pieces after one keeps the space
        # its first piece starts with (SentencePiece drops it only at the start of the text)
        out, run = [], []
        specials = set(self.all_special_ids)

        def flush():
            if run:
                text = self.sp.DecodeIds(run)
                if out and self.sp.IdToPiece(run[0]).startswith("\u2581"):
                    text = " " + text
                out.append(text)
                run.clear()

        for i in ids:
            if i in specials or i >= self.sp.GetPieceSize():
                flush()
                out.append(self.id_to_token(i) or "")
            else:
                run.append(i)
        flush()
        return "".join(out)

    def tokenizer_config(self):
        config = super().tokenizer_config()
        config["extra_ids"] = self.extra_ids
        return config
