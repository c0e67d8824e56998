"""BertTokenizer: WordPiece over bert-base-uncased's vocabulary (shipped in mf_bert/data), as
transformers' BertTokenizerFast: the `tokenizers` library does the normalising and WordPiece."""
from importlib import resources
from pathlib import Path
from typing import List, Optional

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers

from mf.errors import TokenizerError
from mf.tokenization import BackendTokenizer


def bundled_vocab_file(variant: str = "uncased") -> str:
    """A vocabulary shipped with mf-bert: bert-base-uncased's or bert-base-chinese's (Apache-2.0, data/LICENSE)."""
    return str(resources.files("mf_bert") / "data" / ("vocab.txt" if variant == "uncased" else "vocab-chinese.txt"))


class BertTokenizer(BackendTokenizer):
    """[CLS] A [SEP] (B [SEP]) with token_type_ids 0 for A and 1 for B."""

    vocab_files = {"vocab_file": "vocab.txt"}
    TOKENIZER_FILE = "tokenizer.json"

    def __init__(self, vocab_file: Optional[str] = None, do_lower_case: bool = True,
                 tokenize_chinese_chars: bool = True, strip_accents: Optional[bool] = None,
                 unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]",
                 model_max_length: int = 512, tokenizer_file: Optional[str] = None, **kwargs):
        if vocab_file is None and tokenizer_file is not None:
            vocab = _vocabulary_of_tokenizer_json(tokenizer_file)
            backend = Tokenizer(models.WordPiece(vocab, unk_token=unk_token))
        else:
            vocab_file = vocab_file or bundled_vocab_file()
            if not Path(vocab_file).is_file():
                raise TokenizerError(f"WordPiece vocabulary {vocab_file} does not exist")
            try:
                backend = Tokenizer(models.WordPiece.from_file(str(vocab_file), unk_token=unk_token))
            except Exception as exc:
                raise TokenizerError(f"cannot read WordPiece vocabulary {vocab_file}: {exc}") from None
        backend.normalizer = normalizers.BertNormalizer(
            clean_text=True, handle_chinese_chars=tokenize_chinese_chars, strip_accents=strip_accents,
            lowercase=do_lower_case)
        backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        backend.decoder = decoders.WordPiece(prefix="##")
        self.vocab_file = None if vocab_file is None else str(vocab_file)
        self.do_lower_case, self.tokenize_chinese_chars = do_lower_case, tokenize_chinese_chars
        self.strip_accents = strip_accents
        super().__init__(backend, unk_token=unk_token, sep_token=sep_token, pad_token=pad_token,
                         cls_token=cls_token, mask_token=mask_token, model_max_length=model_max_length, **kwargs)

    # a directory may hold the vocabulary as vocab.txt or inside tokenizer.json (transformers' fast tokenizer)
    @classmethod
    def _directory_has_files(cls, directory) -> bool:
        return any((Path(directory) / name).is_file() for name in ("vocab.txt", cls.TOKENIZER_FILE))

    @classmethod
    def check_vocab_files(cls, files, directory):
        if "vocab_file" not in files and not (Path(directory) / cls.TOKENIZER_FILE).is_file():
            raise TokenizerError(f"{directory} has neither vocab.txt nor tokenizer.json, which BertTokenizer needs")

    @classmethod
    def from_directory(cls, directory, **kwargs):
        tokenizer_json = Path(directory) / cls.TOKENIZER_FILE
        if not (Path(directory) / "vocab.txt").is_file() and tokenizer_json.is_file():
            kwargs.setdefault("tokenizer_file", str(tokenizer_json))
        return super().from_directory(directory, **kwargs)

    def save_vocabulary(self, directory: Path):
        """vocab.txt, one token a line in id order (written from the vocabulary, whichever file it came from)."""
        vocab = self.backend.get_vocab(with_added_tokens=False)
        target = Path(directory) / "vocab.txt"
        target.write_text("".join(token + "\n" for token, _ in sorted(vocab.items(), key=lambda item: item[1])),
                          encoding="utf-8")
        return [target]

    def build_inputs_with_special_tokens(self, ids: List[int], pair_ids: Optional[List[int]] = None) -> List[int]:
        out = [self.cls_token_id] + ids + [self.sep_token_id]
        return out + pair_ids + [self.sep_token_id] if pair_ids is not None else out

    def create_token_type_ids(self, ids: List[int], pair_ids: Optional[List[int]] = None) -> List[int]:
        first = len(ids) + 2
        return [0] * first + ([1] * (len(pair_ids) + 1) if pair_ids is not None else [])

    def tokenizer_config(self):
        return {**super().tokenizer_config(), "do_lower_case": self.do_lower_case,
                "tokenize_chinese_chars": self.tokenize_chinese_chars, "strip_accents": self.strip_accents}


def _vocabulary_of_tokenizer_json(path) -> dict:
    """token -> id of the WordPiece model in a tokenizer.json."""
    import json

    try:
        model = json.loads(Path(path).read_text(encoding="utf-8"))["model"]
    except (OSError, ValueError, KeyError) as exc:
        raise TokenizerError(f"cannot read {path}: {exc}") from None
    if model.get("type") != "WordPiece" or not isinstance(model.get("vocab"), dict):
        raise TokenizerError(f"{path} holds a {model.get('type')} model, not the WordPiece vocabulary BERT uses")
    return model["vocab"]
