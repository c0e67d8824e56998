"""Train the stand-in for ChatGLM-6B's ice_text.model (which cannot be had offline) on the shared texts.

    ../../.venv/bin/python tools/make_standin_tokenizer.py      # writes src/mf_glm/data/glm_standin.model

It has what the tokenizer relies on in the original: ChatGLM's own pieces for line breaks (<n>), tabs
(<|tab|>) and runs of 2-80 spaces (<|blank_N|>), the GLM special tokens ([MASK], [gMASK], [sMASK],
<unused_0>, <sop>, <eop>, <ENC>, <dBLOCK>) as whole pieces, <pad> at id 3, byte fall-back for unseen
characters, and no normalisation (spaces and case are kept, as in ice_text.model). Its vocabulary is small
(8000 pieces, trained on English novels and chit-chat, Chinese chit-chat and UDHR sentences, and Python code),
so ids differ from the original's; the layout around them (20000 image ids first, text pieces after) is the
original's.
"""
import io
from pathlib import Path

import sentencepiece as spm

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2].parent / "shared" / "data"
REPO = HERE.parents[2]
OUT = HERE.parent / "src" / "mf_glm" / "data" / "glm_standin.model"
GLM_SPECIALS = ["[MASK]", "[gMASK]", "[sMASK]", "<unused_0>", "<sop>", "<eop>", "<ENC>", "<dBLOCK>"]
WHITESPACE_PIECES = ["<n>", "<|tab|>"] + [f"<|blank_{n}|>" for n in range(2, 81)]


def sentences():
    import json

    for name in ("text/botchan.txt",):
        yield from (line for line in (SHARED / name).read_text(encoding="utf-8").splitlines() if line.strip())
    moby = (SHARED / "text/moby-dick.txt").read_text(encoding="utf-8")[:400_000]
    yield from (line for line in moby.splitlines() if line.strip())
    for name in ("instructions/chat_pairs_chinese.jsonl", "instructions/chat_pairs_english.jsonl"):
        for line in (SHARED / name).read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            yield record["instruction"]
            yield record["output"]
    for line in (SHARED / "translation/eng-cmn_hans.tsv").read_text(encoding="utf-8").splitlines():
        yield from line.split("\t")
    for path in sorted((REPO / "core" / "src" / "mf").rglob("*.py"))[:60]:  # code: indentation, symbols
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                # as ChatGLM's tokenizer sees code: runs of spaces as blank pieces
                for n in range(80, 1, -1):
                    line = line.replace(" " * n, f"<|blank_{n}|>")
                yield line


def main():
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=sentences(), model_writer=model, vocab_size=8000, model_type="unigram",
        character_coverage=0.9995, byte_fallback=True, normalization_rule_name="identity",
        remove_extra_whitespaces=False, split_digits=True, unk_id=0, bos_id=1, eos_id=2, pad_id=3,
        user_defined_symbols=WHITESPACE_PIECES + GLM_SPECIALS, max_sentence_length=8192, num_threads=2,
        input_sentence_size=0)
    OUT.write_bytes(model.getvalue())
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
