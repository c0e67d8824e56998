"""Property-based fuzzing of everything that reads outside input: tokenizers, config files, safetensors
headers and index files, dataset formats, chat templates (issue 19). The property is always the same: the
input is accepted, or refused with an mf error (MFError: it names the problem and the fix) — never a raw
exception. Byte-level tokenizers must also round-trip their text exactly.

MF_FUZZ_EXAMPLES sets the examples per property (CI: the default below; `nox -s reliability` runs many
more with fresh randomness). A crash found here becomes an @example of its property.
"""
import json
import os
import struct
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mf import AutoConfig, AutoTokenizer
from mf.errors import MFError

EXAMPLES = int(os.environ.get("MF_FUZZ_EXAMPLES", "250"))
NIGHTLY = "MF_FUZZ_EXAMPLES" in os.environ
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not NIGHTLY,
                suppress_health_check=list(HealthCheck))

# Text with everything a file or a user can put in a Python str: any code point, lone surrogates included.
TEXT = st.text(st.characters(codec=None, categories=None), max_size=60) | \
    st.lists(st.sampled_from(list("ab \n\t你好é✓\ud800\udfff\u200b\x00<>|[]{}") + ["<s>", "</s>", "[MASK]"]),
             max_size=30).map("".join)
JSON_SCALARS = st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | \
    st.floats(allow_nan=True, allow_infinity=True) | TEXT
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4) |
                           st.dictionaries(TEXT, inner, max_size=4), max_leaves=12)


def accepted_or_mf_error(call, *args, **kwargs):
    """Run call; an MFError counts as a clear refusal, anything else fails the property."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return call(*args, **kwargs)
        except MFError:
            return None


TOKENIZERS = ["gpt2", "bloom_560m", "llama_7b", "bert_base_uncased", "t5_small", "clip_vit_b_32",
              "pangualpha_2_6b", "glm_6b"]
BYTE_LEVEL = {"gpt2", "bloom_560m"}  # lossless: decode(encode(text)) == text


@pytest.fixture(scope="module")
def tokenizers():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: AutoTokenizer.from_pretrained(name) for name in TOKENIZERS}


@pytest.mark.parametrize("name", TOKENIZERS)
def test_tokenizers_round_trip_or_refuse_clearly(tokenizers, name):
    tokenizer = tokenizers[name]

    @FUZZ
    @given(text=TEXT)
    @example(text="\ud800")  # a lone surrogate: TokenizerError, not a raw TypeError (item 5)
    @example(text="a\x00b")
    def prop(text):
        encoded = accepted_or_mf_error(tokenizer, text, add_special_tokens=False)
        if encoded is None:
            return
        ids = encoded["input_ids"]
        assert all(isinstance(i, int) and i >= 0 for i in ids)
        for skip in (True, False):
            decoded = accepted_or_mf_error(tokenizer.decode, ids, skip_special_tokens=skip)
            assert isinstance(decoded, str)
        if name in BYTE_LEVEL:  # special-token strings in the text come back as themselves too
            assert decoded == text

    prop()


@pytest.mark.parametrize("name", TOKENIZERS)
def test_token_ids_to_decode_are_checked(tokenizers, name):
    tokenizer = tokenizers[name]

    @FUZZ
    @example(ids=[2 ** 32])
    @example(ids=[len(tokenizer) + 7])
    @given(ids=st.lists(st.integers(-2 ** 40, 2 ** 40) | st.integers(0, 300000) | st.booleans() | st.floats() |
                        st.none(), max_size=8))
    def prop(ids):
        decoded = accepted_or_mf_error(tokenizer.decode, ids)
        assert decoded is None or isinstance(decoded, str)

    prop()


@pytest.fixture(scope="module")
def scratch():
    with tempfile.TemporaryDirectory(prefix="mf-fuzz-") as directory:
        yield Path(directory)


MODEL_TYPES = st.sampled_from(["gpt2", "llama", "bert", "t5", "vit", "swin", "bloom", "gpt_pangu", "chatglm",
                               "clip", "vit_mae"]) | TEXT | JSON_VALUES


@FUZZ
@given(config=st.dictionaries(st.sampled_from(["hidden_size", "num_layers", "num_heads", "vocab_size", "n_embd",
                                               "layer_norm_eps", "rope_theta", "head_dim", "rope_parameters",
                                               "seq_length", "intermediate_size", "n_kv_heads", "validate",
                                               "to_dict", "eos_token_id", "image_size", "patch_size"]) | TEXT,
                              JSON_VALUES, max_size=6),
       model_type=MODEL_TYPES)
def test_config_files_load_or_refuse_clearly(scratch, config, model_type):
    folder = scratch / "config"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model_type": model_type, **config}, allow_nan=True))
    loaded = accepted_or_mf_error(AutoConfig.from_pretrained, str(folder))
    if loaded is not None:
        assert callable(loaded.validate) and callable(loaded.to_dict)  # no key replaced a method (item 12)


@FUZZ
@given(raw=st.binary(max_size=200))
@example(raw=b"{" * 100000)
@example(raw=b'\xef\xbb\xbf{"model_type": "gpt2"}')
def test_config_bytes_load_or_refuse_clearly(scratch, raw):
    folder = scratch / "config-bytes"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_bytes(raw)
    accepted_or_mf_error(AutoConfig.from_pretrained, str(folder))


def _safetensors_bytes(header, data: bytes) -> bytes:
    encoded = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(encoded)) + encoded + data


TENSOR_ENTRY = st.fixed_dictionaries({
    "dtype": st.sampled_from(["F32", "F16", "BF16", "F64", "I64", "I32", "BOOL", "U8", "F8_E4M3"]) | TEXT,
    "shape": st.lists(st.integers(-2, 2 ** 33), max_size=4) | JSON_VALUES,
    "data_offsets": st.lists(st.integers(-2, 2 ** 33), min_size=0, max_size=3) | JSON_VALUES,
})


@FUZZ
@given(header=st.dictionaries(TEXT, TENSOR_ENTRY | JSON_VALUES, max_size=3) | JSON_VALUES | st.binary(max_size=64),
       data=st.binary(max_size=64), size_lie=st.none() | st.integers(0, 2 ** 64 - 1))
def test_safetensors_headers_load_or_refuse_clearly(scratch, header, data, size_lie):
    from mf.weights import load_state_dict

    folder = scratch / "safetensors"
    folder.mkdir(exist_ok=True)
    raw = _safetensors_bytes(header, data)
    if size_lie is not None:
        raw = struct.pack("<Q", size_lie) + raw[8:]
    (folder / "model.safetensors").write_bytes(raw)
    loaded = accepted_or_mf_error(load_state_dict, folder)
    if loaded is not None:
        weights, _ = loaded
        assert all(isinstance(v, np.ndarray) for v in weights.values())


@FUZZ
@given(index=st.fixed_dictionaries({"weight_map": st.dictionaries(TEXT, JSON_VALUES | st.sampled_from(
    ["model-00001.safetensors", "../outside.safetensors", "/etc/passwd", "", "sub/../model-00001.safetensors"]),
    max_size=3)}) | JSON_VALUES)
def test_index_files_load_or_refuse_clearly(scratch, index):
    from mf.weights import load_state_dict, write_safetensors

    folder = scratch / "index"
    folder.mkdir(exist_ok=True)
    shard = folder / "model-00001.safetensors"
    if not shard.exists():
        write_safetensors({"w": np.ones((2, 2), np.float32)}, shard, {"format": "pt"})
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    loaded = accepted_or_mf_error(load_state_dict, folder)
    if loaded is not None:
        assert set(loaded[0]) <= {"w"}


JSONL_LINES = st.lists(st.one_of(
    st.builds(lambda v: json.dumps(v, allow_nan=True).encode(), JSON_VALUES),
    st.builds(lambda t: json.dumps({"text": t}).encode("utf-8", "surrogatepass"), TEXT),
    st.builds(lambda p, r: json.dumps({"prompt": p, "response": r}).encode(), TEXT, TEXT),
    st.binary(max_size=40),
    st.just(b"\xef\xbb\xbf{\"text\": \"bom\"}"),
    st.just(b"[" * 5000 + b"]" * 5000),
    st.just(b'{"text": "\\ud800"}'),
), max_size=6)


@FUZZ
@given(lines=JSONL_LINES, skip=st.booleans())
def test_jsonl_datasets_load_or_refuse_clearly(scratch, tokenizers, lines, skip):
    from mf.data import load_dataset

    path = scratch / "data.jsonl"
    path.write_bytes(b"\n".join(lines))
    blocks = accepted_or_mf_error(load_dataset, path, tokenizers["gpt2"], 4, "skip" if skip else "fail")
    if blocks is not None:
        assert blocks.input_ids.shape[1] == 5


@FUZZ
@given(raw=st.binary(max_size=300))
@example(raw="é".encode("latin-1") * 50)
def test_text_datasets_load_or_refuse_clearly(scratch, tokenizers, raw):
    from mf.data import load_dataset

    path = scratch / "data.txt"
    path.write_bytes(raw)
    accepted_or_mf_error(load_dataset, path, tokenizers["gpt2"], 4)


@FUZZ
@given(magic=st.binary(min_size=0, max_size=4) | st.sampled_from([b"\0\0\x08\x03", b"\0\0\x08\x01", b"\0\0\x0d\x03"]),
       dims=st.lists(st.integers(0, 2 ** 32 - 1), max_size=4), data=st.binary(max_size=200),
       labels=st.binary(max_size=40))
@example(magic=b"\0\0\x08\x03", dims=[2 ** 31, 2 ** 31, 8], data=b"", labels=b"")
def test_idx_image_files_load_or_refuse_clearly(scratch, magic, dims, data, labels):
    from mf.data.images import read_labelled_images

    folder = scratch / "idx"
    folder.mkdir(exist_ok=True)
    header = magic + struct.pack(f">{len(dims)}I", *dims) if len(magic) == 4 else magic
    (folder / "train-images-idx3-ubyte").write_bytes(header + data)
    (folder / "train-labels-idx1-ubyte").write_bytes(b"\0\0\x08\x01" + struct.pack(">I", len(labels)) + labels)
    accepted_or_mf_error(read_labelled_images, folder)


@FUZZ
@given(lines=st.lists(st.builds(lambda v: json.dumps(v, allow_nan=True), JSON_VALUES) |
                      st.builds(lambda i, l: json.dumps({"image": i, "label": l}), TEXT | JSON_VALUES, JSON_VALUES),
                      max_size=4))
@example(lines=['{"image": "~0", "label": null}'])  # a user that does not exist: RuntimeError from expanduser
def test_image_jsonl_datasets_load_or_refuse_clearly(scratch, lines):
    from mf.data.images import read_labelled_images

    path = scratch / "images.jsonl"
    path.write_text("\n".join(['{"image": "x.png", "label": 0}'] + lines))
    accepted_or_mf_error(read_labelled_images, path, "skip")


TEMPLATE_PIECES = st.sampled_from([
    "{% for m in messages %}", "{% endfor %}", "{{ m['content'] }}", "{{ m.role }}", "{{ bos_token }}",
    "{% if add_generation_prompt %}", "{% endif %}", "{{ raise_exception('no') }}", "{{ undefined_name.attr }}",
    "{{ 'x' * 100000000 }}", "{{ [1] * 100000000 }}", "{{ 9 ** 9 ** 9 }}", "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "{{ messages[5] }}", "{%", "}}", "{{ m.content | upper }}", "{{ range(10**9) | list }}", "text ",
])


@FUZZ
@given(template=st.lists(TEMPLATE_PIECES, max_size=6).map("".join) | TEXT,
       messages=st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system"]) | TEXT,
                                                "content": TEXT | JSON_VALUES}) | JSON_VALUES, max_size=3),
       tokenize=st.booleans())
@example(template="{{ 'x' * 100000000 }}", messages=[], tokenize=False)
def test_chat_templates_render_or_refuse_clearly(tokenizers, template, messages, tokenize):
    out = accepted_or_mf_error(tokenizers["gpt2"].apply_chat_template, messages, chat_template=template,
                               tokenize=tokenize)
    assert out is None or isinstance(out, (str, list))
