"""ChatGLMTokenizer: ChatGLM-6B's tokenizer, on its SentencePiece model (ice_text.model) or the bundled stand-in.

The original's layout, kept here:
- ids 0..num_image_tokens-1 are image tokens (<image_N>); a text piece's id is its SentencePiece id plus
  num_image_tokens (20000), so [MASK], [gMASK], <sop>, <eop> are 130000, 130001, 130004, 130005 with
  ice_text.model;
- before SentencePiece sees the text, line breaks become <n>, tabs <|tab|> and runs of 2-80 spaces
  <|blank_N|> (pieces of the model), and decoding turns them back, so whitespace and code round-trip;
- a prompt ends in [gMASK] <sop> (the model continues after <sop>); a prompt/response pair for training is
  prompt [gMASK] <sop> response <eop>; batches are padded on the left.
"""
import re
from importlib import resources
from typing import List, Optional

from mf.errors import TokenizerError
from mf.tokenization import SentencePieceTokenizer

MAX_BLANK_LENGTH = 80
_BLANKS = re.compile(r"<\|blank_(\d+)\|>")


def bundled_tokenizer_model() -> str:
    """The stand-in SentencePiece model shipped with mf-glm (see tools/make_standin_tokenizer.py)."""
    return str(resources.files("mf_glm") / "data" / "glm_standin.model")


class ChatGLMTokenizer(SentencePieceTokenizer):
    vocab_files = {"vocab_file": "ice_text.model"}
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(self, vocab_file=None, bos_token="<sop>", eos_token="<eop>", end_token="</s>", mask_token="[MASK]",
                 gmask_token="[gMASK]", pad_token="<pad>", unk_token="<unk>", padding_side="left",
                 num_image_tokens=20000, do_lower_case=False, remove_space=False, model_max_length=2048,
                 additional_special_tokens=None, **kwargs):
        self.num_image_tokens = int(num_image_tokens)
        self.end_token, self.gmask_token = end_token, gmask_token
        self.do_lower_case, self.remove_space = do_lower_case, remove_space
        specials = list(additional_special_tokens or [])
        for token in (gmask_token, "[sMASK]", end_token):
            if token not in specials:
                specials.append(token)
        super().__init__(vocab_file or bundled_tokenizer_model(), bos_token=bos_token, eos_token=eos_token,
                         mask_token=mask_token, pad_token=pad_token, unk_token=unk_token, padding_side=padding_side,
                         model_max_length=model_max_length, additional_special_tokens=specials, **kwargs)
        for token in (bos_token, eos_token, mask_token, gmask_token):
            if self.token_to_id(token) is None:
                raise TokenizerError(f"{self.vocab_file} has no piece {token!r}, which GLM needs; use ChatGLM's "
                                     f"ice_text.model or a SentencePiece model trained with the GLM special tokens "
                                     f"(tools/make_standin_tokenizer.py)")

    @property
    def gmask_token_id(self) -> Optional[int]:
        return self.token_to_id(self.gmask_token)

    # ---- text <-> SentencePiece text ------------------------------------------------------
    def _preprocess(self, text: str) -> str:
        if self.remove_space:
            text = " ".join(text.strip().split())
        if self.do_lower_case:
            text = text.lower()
        text = text.replace("\n", "<n>").replace("\t", "<|tab|>")
        for n in range(MAX_BLANK_LENGTH, 1, -1):
            text = text.replace(" " * n, f"<|blank_{n}|>")
        return text

    @staticmethod
    def _postprocess(text: str) -> str:
        text = text.replace("<n>", "\n").replace("<|tab|>", "\t")
        return _BLANKS.sub(lambda m: " " * int(m.group(1)), text)

    def _encode_text(self, text: str) -> List[int]:
        if not text:
            return []
        ids = []
        for part in self._special_pattern.split(text):
            if not part:
                continue
            if part in self.all_special_tokens:
                ids.append(self.token_to_id(part))
            else:
                ids.extend(i + self.num_image_tokens for i in self.sp.EncodeAsIds(self._preprocess(part)))
        return ids

    def _decode_ids(self, ids: List[int]) -> str:
        pad = self.pad_token_id
        pieces = [i - self.num_image_tokens for i in ids if i != pad and i >= self.num_image_tokens]
        specials = {self.token_to_id(t) - self.num_image_tokens for t in self.all_special_tokens
                    if self.token_to_id(t) is not None}
        out, run = [], []
        for piece in pieces:
            if piece in specials:  # special tokens are written out as text
                if run:
                    out.append(self.sp.DecodeIds(run))
                    run = []
                out.append(self.sp.IdToPiece(piece))
            else:
                run.append(piece)
        if run:
            out.append(self.sp.DecodeIds(run))
        return self._postprocess("".join(out))

    # ---- ids ----------------------------------------------------------------------------
    def token_to_id(self, token: str) -> Optional[int]:
        if token.startswith("<image_") and token.endswith(">") and token[7:-1].isdigit():
            index = int(token[7:-1])
            return index if index < self.num_image_tokens else None
        index = super().token_to_id(token)
        return None if index is None else index + self.num_image_tokens

    def id_to_token(self, index: int) -> Optional[str]:
        if 0 <= index < self.num_image_tokens:
            return f"<image_{index}>"
        return super().id_to_token(index - self.num_image_tokens)

    @property
    def vocab_size(self) -> int:
        return self.num_image_tokens + self.sp.GetPieceSize()

    def build_inputs_with_special_tokens(self, ids: List[int], pair_ids: Optional[List[int]] = None) -> List[int]:
        """ChatGLM's layout: prompt [gMASK] <sop>, and with a response: ... response <eop>."""
        out = list(ids) + [self.gmask_token_id, self.bos_token_id]
        if pair_ids is not None:
            out += list(pair_ids) + [self.eos_token_id]
        return out

    def tokenizer_config(self):
        config = super().tokenizer_config()
        config.update(gmask_token=self.gmask_token, end_token=self.end_token, num_image_tokens=self.num_image_tokens,
                      do_lower_case=self.do_lower_case, remove_space=self.remove_space)
        config.pop("add_bos_token", None)
        config.pop("add_eos_token", None)
        return config
