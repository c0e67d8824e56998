"""Train the SentencePiece model mf-t5 bundles (src/mf_t5/data/spiece.model).

Google's T5 vocabulary cannot be had offline, so mf-t5 ships a stand-in with T5's layout: a unigram
model with <pad> = 0, </s> = 1, <unk> = 2 and no BOS; the tokenizer appends the 100 sentinels
<extra_id_N> after its pieces as T5's does. It is trained on the real text in ../shared/data: the
UDHR in English, German, French and Spanish, and two English novels.

    python plugins/mf-t5/scripts/train_spiece.py ../shared/data
"""
import io
import sys
from pathlib import Path

import sentencepiece as spm

VOCAB_SIZE = 8000


def main(data_dir: str, out: str):
    data = Path(data_dir)
    lines = []
    for name in ("eng-deu_1996.tsv", "eng-fra.tsv", "eng-spa.tsv"):
        for row in (data / "translation" / name).read_text(encoding="utf-8").splitlines():
            lines.extend(part for part in row.split("\t") if part.strip())
    for name in ("botchan.txt", "moby-dick.txt"):
        lines.extend(line for line in (data / "text" / name).read_text(encoding="utf-8").splitlines() if line.strip())
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, model_type="unigram", vocab_size=VOCAB_SIZE,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>",
        character_coverage=1.0, input_sentence_size=200000, shuffle_input_sentence=True, seed_sentencepiece_size=200000,
        num_threads=2, minloglevel=2)
    Path(out).write_bytes(model.getvalue())
    print(f"wrote {out} ({VOCAB_SIZE} pieces, {len(model.getvalue())} bytes)")


if __name__ == "__main__":
    here = Path(__file__).resolve().parent.parent
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data", str(here / "src/mf_t5/data/spiece.model"))
