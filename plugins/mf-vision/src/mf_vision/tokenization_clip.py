"""CLIPTokenizer: OpenAI CLIP's byte-level BPE, with its text cleaning and 77-token context.

The vocabulary is CLIP's `bpe_simple_vocab_16e6.txt.gz` (shipped in mf_vision/data, MIT): 256 byte
characters, the same with the end-of-word mark `</w>`, 48894 merges, then <|startoftext|> and <|endoftext|>
(49408 ids). Text is NFC-normalised, runs of whitespace become one space and everything is lower-cased; words,
single digits, contractions and runs of punctuation are split as OpenAI's regular expression does; a word's
last piece carries `</w>`. Every encoding starts with <|startoftext|> and ends with <|endoftext|>, which also
pads. A Hugging Face checkpoint's vocab.json + merges.txt load too, and save_pretrained writes that layout.
The `tokenizers` library does the BPE, as in transformers' CLIPTokenizer.
"""
import gzip
import json
from importlib import resources
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

from mf.errors import TokenizerError
from mf.tokenization import BackendTokenizer

START, END = "<|startoftext|>", "<|endoftext|>"
# OpenAI's CLIP word pattern (applied to lower-cased text)
WORDS = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
END_OF_WORD = "</w>"
MERGES_IN_VOCABULARY = 49152 - 256 - 2  # the published vocabulary uses the file's first 48894 merges


def bundled_bpe_file() -> str:
    return str(resources.files("mf_vision") / "data" / "bpe_simple_vocab_16e6.txt.gz")


def byte_characters() -> List[str]:
    """The printable characters standing for the 256 byte values (GPT-2's and CLIP's table), in vocabulary
    order: the bytes that print as themselves first, then the others, mapped past 255."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    return [chr(b) for b in printable] + [chr(256 + i) for i in range(len(others))]


def read_bpe_file(path) -> Tuple[Dict[str, int], List[Tuple[str, str]]]:
    """vocabulary and merges from OpenAI's merges file (gzip'd text, a version line, then one merge a line)."""
    try:
        lines = gzip.open(path).read().decode("utf-8").split("\n")
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise TokenizerError(f"cannot read the CLIP BPE file {path}: {exc}") from None
    merges = [tuple(line.split()) for line in lines[1:MERGES_IN_VOCABULARY + 1]]
    if len(merges) != MERGES_IN_VOCABULARY or any(len(m) != 2 for m in merges):
        raise TokenizerError(f"{path} is not CLIP's BPE file: expected {MERGES_IN_VOCABULARY} merges of two "
                             f"symbols after a version line")
    symbols = byte_characters()
    tokens = symbols + [s + END_OF_WORD for s in symbols] + ["".join(m) for m in merges] + [START, END]
    return {token: i for i, token in enumerate(tokens)}, merges


def read_vocab_files(vocab_file, merges_file) -> Tuple[Dict[str, int], List[Tuple[str, str]]]:
    """vocabulary and merges from Hugging Face's vocab.json + merges.txt."""
    for path in (vocab_file, merges_file):
        if not Path(path).is_file():
            raise TokenizerError(f"tokenizer file {path} does not exist")
    try:
        vocab = json.loads(Path(vocab_file).read_text(encoding="utf-8"))
        lines = Path(merges_file).read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TokenizerError(f"cannot read {vocab_file} and {merges_file}: {exc}") from None
    merges = [tuple(line.split()) for line in lines if line.strip() and not line.startswith("#version")]
    if not isinstance(vocab, dict) or any(len(m) != 2 for m in merges):
        raise TokenizerError(f"{vocab_file} / {merges_file} are not a BPE vocabulary (a JSON object of tokens, "
                             f"and one pair of symbols a line)")
    return vocab, merges


class CLIPTokenizer(BackendTokenizer):
    """CLIP's tokenizer. With no files it uses the bundled CLIP vocabulary; `bpe_file` takes OpenAI's
    gzip'd merges file, `vocab_file` + `merges_file` a Hugging Face checkpoint's."""

    vocab_files = {"vocab_file": "vocab.json", "merges_file": "merges.txt"}
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(self, vocab_file: Optional[str] = None, merges_file: Optional[str] = None,
                 bpe_file: Optional[str] = None, bos_token=START, eos_token=END, pad_token=END, unk_token=END,
                 add_bos_token: bool = True, add_eos_token: bool = True, model_max_length: int = 77, **kwargs):
        if vocab_file is not None or merges_file is not None:
            if vocab_file is None or merges_file is None:
                raise TokenizerError("CLIPTokenizer needs both vocab_file and merges_file (or neither, for the "
                                     "bundled CLIP vocabulary)")
            vocab, merges = read_vocab_files(vocab_file, merges_file)
        else:
            vocab, merges = read_bpe_file(bpe_file or bundled_bpe_file())
        self._vocab, self._merges = vocab, merges
        backend = Tokenizer(models.BPE(vocab=vocab, merges=merges, continuing_subword_prefix="",
                                       end_of_word_suffix=END_OF_WORD, fuse_unk=False, unk_token=unk_token))
        backend.normalizer = normalizers.Sequence(
            [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()])
        backend.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Split(Regex(WORDS), behavior="removed", invert=True),
             pre_tokenizers.ByteLevel(add_prefix_space=False)])
        backend.decoder = decoders.ByteLevel()
        super().__init__(backend, bos_token=bos_token, eos_token=eos_token, pad_token=pad_token, unk_token=unk_token,
                         add_bos_token=add_bos_token, add_eos_token=add_eos_token,
                         model_max_length=model_max_length, **kwargs)

    def _decode_ids(self, ids: List[int]) -> str:
        # a word's last piece ends in </w>: that is where the spaces were
        return super()._decode_ids(ids).replace(END_OF_WORD, " ").strip()

    def save_vocabulary(self, directory: Path) -> List[Path]:
        """vocab.json and merges.txt, the files transformers' CLIPTokenizer reads."""
        vocab_path, merges_path = Path(directory) / "vocab.json", Path(directory) / "merges.txt"
        vocab_path.write_text(json.dumps(self._vocab, ensure_ascii=False), encoding="utf-8")
        merges_path.write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in self._merges), encoding="utf-8")
        return [vocab_path, merges_path]
