"""The tokenizer base class: special tokens, padding, truncation, tensors, save and load.

A subclass supplies the vocabulary algorithm through five methods:
`_encode_text`, `_decode_ids`, `token_to_id`, `id_to_token`, `vocab_size`,
and the files it needs through `vocab_files` and `save_vocabulary`.
"""
import shutil
from pathlib import Path
from typing import ClassVar, Dict, List, Optional, Sequence, Union

import numpy as np

from ..errors import TokenizerError
from ..fileio import read_json, write_json

TOKENIZER_CONFIG_NAME = "tokenizer_config.json"
SPECIAL_TOKENS_MAP_NAME = "special_tokens_map.json"
SPECIAL_TOKEN_NAMES = ("bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token")


class BatchEncoding(dict):
    """The tokenizer's output: a dict that also allows attribute access (enc.input_ids)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class PreTrainedTokenizer:
    """Base class of every mf tokenizer."""

    # init keyword -> file name in a saved directory, e.g. {"vocab_file": "vocab.json"}
    vocab_files: ClassVar[Dict[str, str]] = {}
    model_input_names: ClassVar[List[str]] = ["input_ids", "token_type_ids", "attention_mask"]

    def __init__(self, bos_token=None, eos_token=None, unk_token=None, pad_token=None, sep_token=None,
                 cls_token=None, mask_token=None, additional_special_tokens=None,
                 model_max_length: Optional[int] = None, padding_side: str = "right",
                 truncation_side: str = "right", add_bos_token: bool = False, add_eos_token: bool = False,
                 chat_template: Optional[str] = None, **kwargs):
        self.bos_token, self.eos_token, self.unk_token = bos_token, eos_token, unk_token
        self.pad_token, self.sep_token, self.cls_token, self.mask_token = pad_token, sep_token, cls_token, mask_token
        self.additional_special_tokens = list(additional_special_tokens or [])
        self.model_max_length = model_max_length
        if padding_side not in ("left", "right"):
            raise TokenizerError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        if truncation_side not in ("left", "right"):
            raise TokenizerError(f"truncation_side must be 'left' or 'right', got {truncation_side!r}")
        self.padding_side = padding_side
        self.truncation_side = truncation_side
        self.add_bos_token = add_bos_token
        self.add_eos_token = add_eos_token
        self.chat_template = chat_template
        self.name_or_path = ""
        self.init_kwargs = kwargs

    # ---- what a subclass implements ---------------------------------------------------
    def _encode_text(self, text: str) -> List[int]:
        raise NotImplementedError

    def _decode_ids(self, ids: List[int]) -> str:
        raise NotImplementedError

    def _encode_with_offsets(self, text: str):
        """Text -> (ids, [(start, end) character span of each token]); for offset_mapping."""
        raise TokenizerError(f"{type(self).__name__} cannot map its tokens back to characters "
                             f"(return_offsets_mapping); use a tokenizer built on the `tokenizers` library")

    def token_to_id(self, token: str) -> Optional[int]:
        raise NotImplementedError

    def id_to_token(self, index: int) -> Optional[str]:
        raise NotImplementedError

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def save_vocabulary(self, directory: Path) -> List[Path]:
        """Copy the vocabulary files into directory (default: the files named in vocab_files)."""
        written = []
        for key, name in self.vocab_files.items():
            source = self.init_kwargs.get(key) or getattr(self, key, None)
            if source is None:
                continue
            target = directory / name
            if Path(source).resolve() != target.resolve():
                shutil.copyfile(source, target)
            written.append(target)
        return written

    # ---- special tokens ---------------------------------------------------------------
    def _special_id(self, token) -> Optional[int]:
        return None if token is None else self.token_to_id(token)

    bos_token_id = property(lambda self: self._special_id(self.bos_token))
    eos_token_id = property(lambda self: self._special_id(self.eos_token))
    unk_token_id = property(lambda self: self._special_id(self.unk_token))
    pad_token_id = property(lambda self: self._special_id(self.pad_token))
    sep_token_id = property(lambda self: self._special_id(self.sep_token))
    cls_token_id = property(lambda self: self._special_id(self.cls_token))
    mask_token_id = property(lambda self: self._special_id(self.mask_token))

    @property
    def all_special_tokens(self) -> List[str]:
        tokens = [getattr(self, name) for name in SPECIAL_TOKEN_NAMES] + self.additional_special_tokens
        return list(dict.fromkeys(t for t in tokens if t is not None))

    @property
    def all_special_ids(self) -> List[int]:
        return [i for i in (self.token_to_id(t) for t in self.all_special_tokens) if i is not None]

    def build_inputs_with_special_tokens(self, ids: List[int], pair_ids: Optional[List[int]] = None) -> List[int]:
        """Add BOS/EOS around a sequence (or a pair) as this tokenizer's model expects."""
        bos = [self.bos_token_id] if self.add_bos_token and self.bos_token_id is not None else []
        eos = [self.eos_token_id] if self.add_eos_token and self.eos_token_id is not None else []
        out = bos + ids + eos
        if pair_ids is not None:
            out += bos + pair_ids + eos
        return out

    def create_token_type_ids(self, ids: List[int], pair_ids: Optional[List[int]] = None) -> List[int]:
        """0 for the first sequence (with its special tokens), 1 for the pair."""
        first = len(self.build_inputs_with_special_tokens(ids))
        if pair_ids is None:
            return [0] * first
        return [0] * first + [1] * (len(self.build_inputs_with_special_tokens(ids, pair_ids)) - first)

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return len(self.build_inputs_with_special_tokens([], [] if pair else None))

    # ---- encoding ---------------------------------------------------------------------
    def tokenize(self, text: str) -> List[str]:
        """Text -> tokens (strings), without special tokens."""
        return [self.id_to_token(i) for i in self._encode_text(text)]

    def tokenize_with_offsets(self, text: str):
        """(ids, character spans, word index of each token) of one text, without special tokens. A word is
        what the pre-tokenizer split on (whitespace, punctuation, each CJK character)."""
        ids, spans = self._encode_with_offsets(text)
        words, word = [], -1
        for index, (start, _) in enumerate(spans):
            if index == 0 or start > spans[index - 1][1] or text[start - 1:start].isspace():
                word += 1
            words.append(word)
        return ids, spans, words

    def encode_words(self, words: Sequence[str]):
        """Pre-split words -> (ids, word_ids): each token's index in `words`, no special tokens.

        Token classification labels words (CoNLL rows, characters of Chinese text); this says which
        word every token came from, so a label can go on a word's first token."""
        ids, word_ids = [], []
        for index, word in enumerate(words):
            pieces = self._encode_text(word)
            ids.extend(pieces)
            word_ids.extend([index] * len(pieces))
        return ids, word_ids

    def convert_tokens_to_ids(self, tokens: Union[str, Sequence[str]]):
        if isinstance(tokens, str):
            return self.token_to_id(tokens)
        return [self.token_to_id(t) for t in tokens]

    def convert_ids_to_tokens(self, ids: Union[int, Sequence[int]]):
        if isinstance(ids, (int, np.integer)):
            return self.id_to_token(int(ids))
        return [self.id_to_token(int(i)) for i in ids]

    def encode(self, text: str, text_pair: Optional[str] = None, add_special_tokens: bool = True,
               truncation: bool = False, max_length: Optional[int] = None) -> List[int]:
        """Text -> ids."""
        return self(text, text_pair, add_special_tokens=add_special_tokens, truncation=truncation,
                    max_length=max_length, return_attention_mask=False, return_token_type_ids=False)["input_ids"]

    def __call__(self, text, text_pair=None, add_special_tokens: bool = True,
                 padding: Union[bool, str] = False, truncation: Union[bool, str] = False,
                 max_length: Optional[int] = None, return_tensors: Optional[str] = None,
                 return_attention_mask: Optional[bool] = None, return_token_type_ids: Optional[bool] = None,
                 pad_to_multiple_of: Optional[int] = None, padding_side: Optional[str] = None,
                 return_offsets_mapping: bool = False, **unused) -> BatchEncoding:
        """Encode one text or a batch: input_ids, token_type_ids, attention_mask (and offset_mapping:
        each token's (start, end) characters in its own text, (0, 0) for special tokens and padding)."""
        if unused:
            raise TypeError(f"{type(self).__name__}.__call__ got unexpected arguments: {', '.join(sorted(unused))}")
        batched = isinstance(text, (list, tuple))
        texts = list(text) if batched else [text]
        pairs = (list(text_pair) if batched else [text_pair]) if text_pair is not None else [None] * len(texts)
        if len(pairs) != len(texts):
            raise TokenizerError(f"got {len(texts)} texts but {len(pairs)} text pairs; give one pair per text")
        for item in texts + [p for p in pairs if p is not None]:
            if not isinstance(item, str):
                raise TokenizerError(f"expected text (str), got {type(item).__name__}: {item!r}")
            _check_text(item)
        padding = _padding_strategy(padding)
        if max_length is None and (padding == "max_length" or truncation):
            max_length = self.model_max_length
        if padding == "max_length" and max_length is None:
            raise TokenizerError("padding='max_length' needs max_length (or a tokenizer with model_max_length)")
        if max_length is not None and max_length <= 0:
            raise TokenizerError(f"max_length must be positive, got {max_length}")

        strategy = _truncation_strategy(truncation)
        rows = [self._encode_one(t, p, add_special_tokens, strategy, max_length, return_offsets_mapping)
                for t, p in zip(texts, pairs)]
        if padding:
            rows = self._pad(rows, padding, max_length, pad_to_multiple_of, padding_side or self.padding_side)
        keys = ["input_ids"]
        if return_token_type_ids is not False and "token_type_ids" in self.model_input_names:
            keys.append("token_type_ids")
        if return_attention_mask is not False and "attention_mask" in self.model_input_names:
            keys.append("attention_mask")
        if return_offsets_mapping:
            keys.append("offset_mapping")
        out = BatchEncoding({k: [row[k] for row in rows] if batched else rows[0][k] for k in keys})
        return _to_tensors(out, return_tensors, batched) if return_tensors else out

    def _encode_one(self, text, pair, add_special_tokens, truncation, max_length, offsets=False):
        if offsets:
            ids, spans = self._encode_with_offsets(text)
            pair_ids, pair_spans = self._encode_with_offsets(pair) if pair is not None else (None, None)
        else:
            ids, pair_ids = self._encode_text(text), (self._encode_text(pair) if pair is not None else None)
            spans = pair_spans = None
        if truncation and max_length is not None:
            budget = max_length - (self.num_special_tokens_to_add(pair is not None) if add_special_tokens else 0)
            if budget < 0:
                raise TokenizerError(f"max_length={max_length} leaves no room for the special tokens of "
                                     f"{type(self).__name__}; use a larger max_length")
            keep_first, keep_pair = self._truncated_lengths(len(ids), None if pair_ids is None else len(pair_ids),
                                                            budget, truncation)
            ids, spans = self._cut(ids, keep_first), self._cut(spans, keep_first)
            if pair_ids is not None:
                pair_ids, pair_spans = self._cut(pair_ids, keep_pair), self._cut(pair_spans, keep_pair)
        if add_special_tokens:
            input_ids = self.build_inputs_with_special_tokens(ids, pair_ids)
            type_ids = self.create_token_type_ids(ids, pair_ids)
        else:
            input_ids = ids + (pair_ids or [])
            type_ids = [0] * len(ids) + [1] * len(pair_ids or [])
        row = {"input_ids": input_ids, "token_type_ids": type_ids, "attention_mask": [1] * len(input_ids)}
        if offsets:
            row["offset_mapping"] = self._place_offsets(ids, spans, pair_ids, pair_spans, add_special_tokens)
        return row

    def _place_offsets(self, ids, spans, pair_ids, pair_spans, add_special_tokens):
        """Offsets aligned with the ids that build_inputs_with_special_tokens made: the special tokens it
        added get (0, 0). Tokens are told apart by marking each sequence's ids with unique negative values."""
        if not add_special_tokens:
            return [tuple(s) for s in spans + (pair_spans or [])]
        marks = {}
        first = [-(i + 1) for i in range(len(ids))]
        marks.update(zip(first, spans))
        second = None
        if pair_ids is not None:
            second = [-(len(ids) + i + 1) for i in range(len(pair_ids))]
            marks.update(zip(second, pair_spans))
        return [tuple(marks.get(i, (0, 0))) for i in self.build_inputs_with_special_tokens(first, second)]

    def _truncated_lengths(self, first, pair, budget, strategy):
        """How many tokens of each sequence stay within budget: longest_first drops from whichever is
        longer, only_first / only_second from that one (an error when it cannot shrink enough)."""
        pair_length = pair or 0
        excess = first + pair_length - budget
        if excess <= 0:
            return first, pair
        if strategy == "only_second" and pair is not None:
            if excess > pair:
                raise TokenizerError(f"truncation='only_second' cannot fit max_length: the first sequence alone "
                                     f"has {first} tokens; use a larger max_length or truncation='longest_first'")
            return first, pair - excess
        if strategy == "only_first" and pair is not None:
            if excess > first:
                raise TokenizerError(f"truncation='only_first' cannot fit max_length: the pair alone has "
                                     f"{pair} tokens; use a larger max_length or truncation='longest_first'")
            return first - excess, pair
        while first + pair_length > budget:
            if pair is not None and pair_length > first:
                pair_length -= 1
            else:
                first -= 1
        return first, (pair_length if pair is not None else None)

    def _cut(self, items, keep):
        if items is None:
            return None
        return items[len(items) - keep:] if self.truncation_side == "left" else items[:keep]

    def _pad(self, rows, padding, max_length, multiple, side):
        if self.pad_token_id is None:
            raise TokenizerError(f"{type(self).__name__} has no pad_token, so it cannot pad; set one, e.g. "
                                 f"tokenizer.pad_token = tokenizer.eos_token")
        target = max(len(r["input_ids"]) for r in rows) if padding == "longest" else max_length
        if multiple:
            target = -(-target // multiple) * multiple
        padded = []
        for row in rows:
            n = target - len(row["input_ids"])
            if n < 0:  # longer than max_length without truncation: leave it, as transformers does
                padded.append(row)
                continue
            fill = {"input_ids": self.pad_token_id, "token_type_ids": 0, "attention_mask": 0,
                    "offset_mapping": (0, 0)}
            padded.append({k: ([fill[k]] * n + v) if side == "left" else (v + [fill[k]] * n) for k, v in row.items()})
        return padded

    # ---- decoding ---------------------------------------------------------------------
    def decode(self, ids, skip_special_tokens: bool = False, **unused) -> str:
        """Ids -> text."""
        ids = _as_id_list(ids)
        if ids and max(ids) >= len(self):
            raise TokenizerError(f"token id {max(ids)} is outside {type(self).__name__}'s vocabulary [0, {len(self)}); "
                                 f"the ids come from another tokenizer or model")
        if skip_special_tokens:
            special = set(self.all_special_ids)
            ids = [i for i in ids if i not in special]
        return self._decode_ids(ids)

    def batch_decode(self, sequences, skip_special_tokens: bool = False, **kwargs) -> List[str]:
        """A batch of id sequences -> texts."""
        if hasattr(sequences, "asnumpy"):
            sequences = sequences.asnumpy()
        return [self.decode(seq, skip_special_tokens=skip_special_tokens, **kwargs) for seq in sequences]

    def __len__(self):
        return self.vocab_size

    # ---- chat templates -----------------------------------------------------------------
    def apply_chat_template(self, messages, tokenize: bool = True, add_generation_prompt: bool = False,
                            chat_template: Optional[str] = None, return_tensors: Optional[str] = None, **kwargs):
        """Render messages ([{'role': ..., 'content': ...}]) with the Jinja chat template from
        tokenizer_config.json, as transformers does; returns ids, or the text with tokenize=False."""
        template = chat_template or self.chat_template
        if not template:
            raise TokenizerError(f"{type(self).__name__} has no chat_template; pass chat_template= or use a "
                                 f"checkpoint whose tokenizer_config.json has one")
        for message in messages:
            if not isinstance(message, dict) or "role" not in message or "content" not in message:
                raise TokenizerError(f"each message must be a dict with 'role' and 'content', got {message!r}")
        text = _render_template(template, messages=messages, add_generation_prompt=add_generation_prompt,
                                bos_token=self.bos_token or "", eos_token=self.eos_token or "", **kwargs)
        if not tokenize:
            return text
        ids = self.encode(text, add_special_tokens=False)
        if return_tensors:
            return _to_tensors(BatchEncoding(input_ids=ids), return_tensors, False)["input_ids"]
        return ids

    # ---- save / load ------------------------------------------------------------------
    def tokenizer_config(self) -> Dict:
        """What tokenizer_config.json records (besides the vocabulary files)."""
        config = {"tokenizer_class": type(self).__name__}
        config.update({name: getattr(self, name) for name in SPECIAL_TOKEN_NAMES if getattr(self, name) is not None})
        if self.additional_special_tokens:
            config["additional_special_tokens"] = self.additional_special_tokens
        config.update(model_max_length=self.model_max_length, padding_side=self.padding_side,
                      truncation_side=self.truncation_side, add_bos_token=self.add_bos_token,
                      add_eos_token=self.add_eos_token)
        if self.chat_template:
            config["chat_template"] = self.chat_template
        return config

    def save_pretrained(self, save_directory) -> List[Path]:
        """Write the vocabulary files, tokenizer_config.json and special_tokens_map.json."""
        directory = Path(save_directory)
        directory.mkdir(parents=True, exist_ok=True)
        files = self.save_vocabulary(directory)
        config = self.tokenizer_config()
        write_json(directory / TOKENIZER_CONFIG_NAME, config)
        write_json(directory / SPECIAL_TOKENS_MAP_NAME,
                   {k: v for k, v in config.items() if k in SPECIAL_TOKEN_NAMES or k == "additional_special_tokens"})
        return files + [directory / TOKENIZER_CONFIG_NAME, directory / SPECIAL_TOKENS_MAP_NAME]

    @classmethod
    def from_directory(cls, directory, **kwargs) -> "PreTrainedTokenizer":
        """Build from a directory with this class's vocabulary files and tokenizer_config.json."""
        directory = Path(directory)
        config = {}
        if (directory / TOKENIZER_CONFIG_NAME).is_file():
            config = read_json(directory / TOKENIZER_CONFIG_NAME, TokenizerError)
            config = {k: v for k, v in config.items() if k in cls.init_parameters()}
            config = {k: (v["content"] if isinstance(v, dict) and "content" in v else v) for k, v in config.items()}
        files = {}
        for key, name in cls.vocab_files.items():
            if (directory / name).is_file():
                files[key] = str(directory / name)
        cls.check_vocab_files(files, directory)
        tokenizer = cls(**{**config, **files, **kwargs})
        tokenizer.name_or_path = str(directory)
        return tokenizer

    @classmethod
    def check_vocab_files(cls, files, directory):
        """Raise if a required vocabulary file is missing (subclasses may accept alternatives)."""
        missing = [name for key, name in cls.vocab_files.items() if key not in files]
        if missing:
            raise TokenizerError(f"{directory} lacks {', '.join(missing)}, which {cls.__name__} needs")

    @classmethod
    def init_parameters(cls):
        import inspect

        names = set()
        for klass in cls.__mro__:
            if "__init__" in vars(klass):
                names |= set(inspect.signature(klass.__init__).parameters)
        return names - {"self", "kwargs"}

    @classmethod
    def from_pretrained(cls, name_or_path, revision=None, token=None, **kwargs) -> "PreTrainedTokenizer":
        """A preset's tokenizer, or one saved in a directory or a Hub repository."""
        from ..resolve import locate

        location = locate(name_or_path, revision=revision, token=token)
        if location.directory is not None and cls._directory_has_files(location.directory):
            tokenizer = cls.from_directory(location.directory, **kwargs)
        elif location.preset is not None:
            if location.preset.tokenizer is None:
                raise TokenizerError(f"preset '{location.preset.name}' has no tokenizer")
            tokenizer = cls(**{**location.preset.tokenizer, **kwargs})
        else:
            tokenizer = cls.from_directory(location.directory, **kwargs)
        tokenizer.name_or_path = str(name_or_path)
        return tokenizer

    @classmethod
    def _directory_has_files(cls, directory) -> bool:
        return all((Path(directory) / name).is_file() for name in cls.vocab_files.values())

    def __repr__(self):
        return (f"{type(self).__name__}(name_or_path={self.name_or_path!r}, vocab_size={self.vocab_size}, "
                f"special_tokens={self.all_special_tokens})")


# what one chat template may produce: far beyond any conversation a model reads, far below what exhausts memory
MAX_TEMPLATE_OUTPUT = 10_000_000


def _render_template(template: str, **context) -> str:
    """Render a chat template in the sandbox; any failure of the template (syntax, raise_exception, sandbox
    refusals, runaway recursion or size) is a TokenizerError saying it is the template's."""
    from jinja2.exceptions import TemplateError

    try:
        text = _compile_template(template).render(**context)
    except TemplateError as exc:
        raise TokenizerError(f"the chat template failed: {type(exc).__name__}: {exc}") from None
    except RecursionError:
        raise TokenizerError("the chat template recurses without end") from None
    except (TypeError, ValueError, KeyError, AttributeError, ZeroDivisionError, OverflowError) as exc:
        raise TokenizerError(f"the chat template failed on these messages: {type(exc).__name__}: {exc}") from None
    if len(text) > MAX_TEMPLATE_OUTPUT:
        raise TokenizerError(f"the chat template produced {len(text)} characters (more than {MAX_TEMPLATE_OUTPUT})")
    return text


def _compile_template(template: str):
    """A chat template compiled in a sandbox, with the helpers transformers' templates use; string and list
    repetition is bounded so that a template cannot build a huge value in memory."""
    import json

    from jinja2.exceptions import SecurityError, TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class BoundedEnvironment(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset(["*", "**"])

        def call_binop(self, context, operator, left, right):
            repeated = isinstance(left, (str, list, tuple)) or isinstance(right, (str, list, tuple))
            if operator == "*" and repeated:
                sequence, count = (left, right) if isinstance(left, (str, list, tuple)) else (right, left)
                if isinstance(count, int) and len(sequence) * count > MAX_TEMPLATE_OUTPUT:
                    raise SecurityError("the template repeats a value beyond the output limit")
            if operator == "**" and isinstance(right, (int, float)) and abs(right) > 1000:
                raise SecurityError("the template raises a number to a power above 1000")
            return super().call_binop(context, operator, left, right)

    def raise_exception(message):
        raise TemplateError(message)

    environment = BoundedEnvironment(trim_blocks=True, lstrip_blocks=True)
    environment.globals["raise_exception"] = raise_exception
    environment.filters["tojson"] = lambda value, indent=None: json.dumps(value, ensure_ascii=False, indent=indent)
    return environment.from_string(template)


def _padding_strategy(padding):
    if padding is True or padding == "longest":
        return "longest"
    if padding is False or padding is None or padding == "do_not_pad":
        return None
    if padding == "max_length":
        return "max_length"
    raise TokenizerError(f"padding must be True, False, 'longest' or 'max_length', got {padding!r}")


def _truncation_strategy(truncation):
    if truncation is True or truncation == "longest_first":
        return "longest_first"
    if truncation is False or truncation is None or truncation == "do_not_truncate":
        return None
    if truncation in ("only_first", "only_second"):
        return truncation
    raise TokenizerError(f"truncation must be True, False, 'longest_first', 'only_first' or 'only_second', "
                         f"got {truncation!r}")


def _as_id_list(ids) -> List[int]:
    if hasattr(ids, "asnumpy"):
        ids = ids.asnumpy()
    try:
        ids = np.asarray(ids)
    except (OverflowError, ValueError, TypeError) as exc:
        raise TokenizerError(f"token ids must be a sequence of integers: {exc}") from None
    if ids.size and not (np.issubdtype(ids.dtype, np.integer) or ids.dtype == np.bool_):
        raise TokenizerError(f"token ids must be integers, got {ids.dtype} values (e.g. {ids.flat[0]!r})")
    if ids.size and ids.min() < 0:
        raise TokenizerError(f"token id {int(ids.min())} is negative; ids are indices into the vocabulary")
    if ids.ndim > 1:
        if ids.shape[0] != 1:
            raise TokenizerError(f"decode takes one sequence, got a batch of shape {list(ids.shape)}; use batch_decode")
        ids = ids[0]
    return [int(i) for i in ids]


def _to_tensors(encoding: BatchEncoding, kind: str, batched: bool) -> BatchEncoding:
    if kind not in ("ms", "np"):
        raise TokenizerError(f"return_tensors must be 'ms', 'np' or None, got {kind!r}")
    out = BatchEncoding()
    for key, value in encoding.items():
        rows = value if batched else [value]
        if len({len(r) for r in rows}) > 1:
            raise TokenizerError("the sequences have different lengths, so they cannot form one tensor; "
                                 "pass padding=True or padding='max_length'")
        if kind == "np":
            out[key] = np.asarray(rows, dtype=np.int64)
        else:
            import mindspore as ms

            out[key] = ms.Tensor(np.asarray(rows, dtype=np.int32))
    return out


def _check_text(text: str):
    """A lone surrogate (U+D800-U+DFFF without its pair, e.g. from a broken "\\ud800" JSON escape or bytes decoded
    with surrogateescape) is not text: no tokenizer backend can encode it, and they fail with raw errors."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise TokenizerError(f"the text holds a lone surrogate {text[exc.start]!r} at character {exc.start}, which is "
                             f"not valid Unicode text; fix the data (e.g. drop it with "
                             f"text.encode('utf-8', 'replace').decode())") from None
