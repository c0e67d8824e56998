"""Train the stand-in PanGu-Alpha SentencePiece model bundled with mf-gpt (mf_gpt/data/pangu_standin.model).

PanGu-Alpha's vocab.model (40000 pieces over jieba-segmented Chinese) cannot be fetched offline. The stand-in
is trained the same way on real Chinese text: every line is cut into words by jieba, spaces and newlines are
mapped to PanGu's stand-ins (U+2582, U+2583), and the words are joined by spaces, so SentencePiece learns
pieces within jieba words. Ids 0-8 are the special tokens in the layout MindFormers' PanGu-Alpha config
expects (<pad> = 6, <eod> = 8, the end of a document): <unk> <s> </s> <cls> <sep> <mask> <pad> <eot> <eod>.
Text: an even sample of the classical poetry corpus (`fetch-datasets.sh zh_poetry`), the UDHR's Chinese,
the shared Chinese chit-chat, and some English.

    python plugins/mf-gpt/tools/make_pangu_standin_tokenizer.py ~/.cache/mf-testdata/zh_poetry/poems.txt ../shared/data
"""
import io
import json
import logging
import sys
from pathlib import Path

import jieba
import sentencepiece as spm

OUT = Path(__file__).resolve().parents[1] / "src" / "mf_gpt" / "data" / "pangu_standin.model"
VOCAB_SIZE = 12000
POEMS = 40000
SPECIALS = ["<cls>", "<sep>", "<mask>", "<pad>", "<eot>", "<eod>"]
TRANSLATE = str.maketrans(" \n", "\u2582\u2583")


def lines(poems: Path, data: Path):
    every = max(1, sum(1 for _ in poems.open(encoding="utf-8")) // POEMS)
    with poems.open(encoding="utf-8") as f:
        for number, line in enumerate(f):
            if number % every == 0:
                yield line.rstrip("\n")
    for line in (data / "translation" / "eng-cmn_hans.tsv").read_text(encoding="utf-8").splitlines():
        yield from line.split("\t")
    for line in (data / "instructions" / "chat_pairs_chinese.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        yield record["instruction"]
        yield record["output"]
    yield from (data / "text" / "botchan.txt").read_text(encoding="utf-8").splitlines()[:3000]


def main(poems, data):
    jieba.setLogLevel(logging.WARNING)
    segmented = [" ".join(word.translate(TRANSLATE) for word in jieba.cut(line)) for line in lines(Path(poems), Path(data))]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(segmented), model_writer=model, vocab_size=VOCAB_SIZE, model_type="bpe",
        character_coverage=0.9995, byte_fallback=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        control_symbols=SPECIALS, user_defined_symbols=["\u2582", "\u2583"], split_digits=True,
        normalization_rule_name="identity", remove_extra_whitespaces=False, max_sentence_length=20000,
        input_sentence_size=0, num_threads=2, minloglevel=2)
    OUT.write_bytes(model.getvalue())
    processor = spm.SentencePieceProcessor(model_proto=model.getvalue())
    print(f"wrote {OUT}: {processor.get_piece_size()} pieces;",
          [processor.id_to_piece(i) for i in range(11)])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
