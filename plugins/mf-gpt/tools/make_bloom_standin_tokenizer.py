"""Train the stand-in BLOOM tokenizer bundled with mf-gpt (mf_gpt/data/bloom_standin_tokenizer.json).

BLOOM's own tokenizer.json (250680 byte-level BPE tokens) cannot be fetched offline. The stand-in has BLOOM's
pipeline exactly — no normaliser; the pre-tokenizer splitting off runs of non-space, non-punctuation characters
with an optional leading space, then byte-level mapping without its regex; a byte-level decoder — and BLOOM's
special tokens <unk>, <s>, </s>, <pad> at ids 0-3, trained here on the shared English, multilingual and Chinese
texts. Pass a real tokenizer.json (AutoTokenizer.from_pretrained of a BLOOM folder) for the real vocabulary.

    python plugins/mf-gpt/tools/make_bloom_standin_tokenizer.py ../shared/data
"""
import json
import sys
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

OUT = Path(__file__).resolve().parents[1] / "src" / "mf_gpt" / "data" / "bloom_standin_tokenizer.json"
VOCAB_SIZE = 6000


def texts(data: Path):
    yield from (data / "text" / "botchan.txt").read_text(encoding="utf-8").splitlines()
    yield from (data / "text" / "moby-dick.txt").read_text(encoding="utf-8").splitlines()[:6000]
    for pairs in sorted((data / "translation").glob("eng-*.tsv")):
        for line in pairs.read_text(encoding="utf-8").splitlines():
            yield from line.split("\t")
    for name in ("chat_pairs_english.jsonl", "chat_pairs_chinese.jsonl"):
        for line in (data / "instructions" / name).read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            yield record["instruction"]
            yield record["output"]


def main(data):
    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(" ?[^(\\s|[.,!?…。，、।۔،])]+"), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tokenizer.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=False)
    tokenizer.post_processor = processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=False)
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=["<unk>", "<s>", "</s>", "<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(texts(Path(data)), trainer=trainer)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(OUT))
    print(f"wrote {OUT}: {tokenizer.get_vocab_size()} tokens")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[3].parent / "shared" / "data")
