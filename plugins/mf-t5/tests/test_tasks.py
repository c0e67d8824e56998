"""T5's tasks end to end on t5_tiny, as a user runs them: the translation Trainer task (both JSONL
layouts, shifted decoder inputs, ignored padding, BLEU / chrF from generated text), the translation and
text2text pipelines, `mf run`, and span corruption."""
import json
import subprocess
import sys

import numpy as np
import pytest

from mf import AutoTokenizer, Trainer, TrainingArguments, pipeline
from mf.data import DatasetError
from mf.generation import GenerationError
from mf.nn.losses import IGNORE_INDEX
from mf.tasks import SpanCorruption, Translation, noise_span_mask, span_corruption
from mf_t5 import T5ForConditionalGeneration

# a copy task with a twist the model must learn: the target is the source's words in reverse
SENTENCES = ["all human beings are born free", "everyone has the right to life", "no one shall be held in slavery",
             "everyone has the right to education", "all are equal before the law", "everyone has the right to work",
             "no one shall be subjected to torture", "everyone has the right to rest"]


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained("t5_tiny")


def _pairs(path, layout="source"):
    rows = []
    for sentence in SENTENCES:
        target = " ".join(reversed(sentence.split()))
        rows.append({"source": sentence, "target": target} if layout == "source" else
                    {"translation": {"en": sentence, "de": target, "fr": "x"}})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _fresh_t5_tiny():
    import mindspore as ms

    from mf import AutoConfig

    ms.set_seed(0)
    return T5ForConditionalGeneration(AutoConfig.from_pretrained("t5_tiny"))


def _args(out, steps, **overrides):
    return TrainingArguments(output_dir=str(out), max_steps=steps, batch_size=8, learning_rate=1e-2, seq_length=16,
                             max_target_length=16, generation_max_length=12, logging_steps=5, warmup_steps=0,
                             save_steps=0, shuffle=False, plot_loss=False, **overrides)


def test_translation_rows_shift_targets_right_and_ignore_padding(tmp_path, tokenizer):
    objective = Translation().with_args(_args(tmp_path, 1, source_lang="en", target_lang="de"))
    from mf_t5 import T5Config

    examples = objective.read(_pairs(tmp_path / "t.jsonl", "translation"), tokenizer, 16, T5Config())
    first = examples.arrays
    target = tokenizer(" ".join(reversed(SENTENCES[0].split())))["input_ids"]
    assert first["labels"][0, :len(target)].tolist() == target and (first["labels"][0, len(target):] == IGNORE_INDEX).all()
    assert first["decoder_input_ids"][0, 0] == 0 and first["decoder_input_ids"][0, 1:len(target)].tolist() == target[:-1]
    # T5's own prefix for the language pair is put before the source
    source = tokenizer("translate English to German: " + SENTENCES[0])["input_ids"]
    assert first["input_ids"][0, :len(source)].tolist() == source
    assert examples.info["references"][0] == " ".join(reversed(SENTENCES[0].split()))


def test_translation_data_problems_are_named(tmp_path, tokenizer):
    from mf_t5 import T5Config

    translation = _pairs(tmp_path / "t.jsonl", "translation")
    with pytest.raises(DatasetError, match="source_lang and target_lang"):
        Translation().read(translation, tokenizer, 16, T5Config())
    with pytest.raises(DatasetError, match="no es text"):
        Translation().with_args(_args(tmp_path, 1, source_lang="en", target_lang="es")).read(
            translation, tokenizer, 16, T5Config())
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"source": "a", "target": "b"}\n{"text": "only text"}\n')
    with pytest.raises(DatasetError, match="bad.jsonl:2"):
        Translation().read(bad, tokenizer, 16, T5Config())
    with pytest.warns(UserWarning, match="skipping"):
        assert len(Translation().read(bad, tokenizer, 16, T5Config(), on_bad_line="skip")) == 1


def test_translation_trains_evaluates_with_bleu_saves_and_serves(tmp_path):
    data = _pairs(tmp_path / "pairs.jsonl")
    trainer = Trainer(task="translation", model=_fresh_t5_tiny(), args=_args(tmp_path / "out", 60),
                      train_dataset=str(data), eval_dataset=str(data))
    before = trainer.evaluate()
    trainer.train()
    after = trainer.evaluate()
    assert after["eval_loss"] < before["eval_loss"] / 2
    for name in ("eval_bleu", "eval_chrf"):
        assert 0.0 <= before[name] <= 100.0 and after[name] > before[name], (before, after)
    # what evaluate scored is what generate gives, decoded and compared as sacreBLEU does
    model = T5ForConditionalGeneration.from_pretrained(str(tmp_path / "out"))
    tokenizer = AutoTokenizer.from_pretrained(str(tmp_path / "out"))
    translator = pipeline("translation", model=model, tokenizer=tokenizer, max_new_tokens=12)
    outputs = [o["translation_text"] for o in translator(SENTENCES)]
    from mf.metrics import bleu

    references = [" ".join(reversed(s.split())) for s in SENTENCES]
    assert abs(bleu(outputs, references)["bleu"] - after["eval_bleu"]) < 1e-6
    assert trainer.predict(SENTENCES[0], max_new_tokens=12) == [{"translation_text": outputs[0]}]


def test_translation_pipeline_takes_prefixes_and_beams():
    translator = pipeline("translation", model=_fresh_t5_tiny(), tokenizer="t5_tiny", max_new_tokens=5)
    assert isinstance(translator.model, T5ForConditionalGeneration)
    out = translator(["All human beings are born free.", "Everyone has the right to life."], src_lang="en",
                     tgt_lang="de", num_beams=2, num_return_sequences=2)
    assert len(out) == 2 and len(out[0]) == 2 and all("translation_text" in o for o in out[0])
    with pytest.raises(GenerationError, match="prefix"):
        translator("hello", src_lang="en", tgt_lang="xx")
    # transformers' task spelling names the language pair
    paired = pipeline("translation_en_to_de", model=translator.model, tokenizer=translator.tokenizer, max_new_tokens=5)
    assert paired("All human beings are born free.") == translator("All human beings are born free.", src_lang="en",
                                                                   tgt_lang="de")
    text2text = pipeline("text2text_generation", model=translator.model, tokenizer=translator.tokenizer,
                         max_new_tokens=4)
    assert set(text2text("summarize: a long text")[0]) == {"generated_text"}
    from mf.pipelines import TranslationPipeline
    from mf_t5 import T5Model

    bare = TranslationPipeline(model=T5Model(translator.model.config), tokenizer=translator.tokenizer)
    with pytest.raises(GenerationError, match="encoder-decoder"):
        bare("hello")


def test_mf_run_finetunes_and_evaluates_translation(tmp_path):
    data = _pairs(tmp_path / "pairs.jsonl")
    out = tmp_path / "run"
    train = subprocess.run([sys.executable, "-m", "mf.cli", "run", "--task", "translation", "--model_type", "t5_tiny",
                            "--run_mode", "train", "--train_dataset", str(data), "--output_dir", str(out),
                            "--max_steps", "3", "--seq_length", "16", "--batch_size", "4", "--save_steps", "0"],
                           capture_output=True, text=True, timeout=600)
    assert train.returncode == 0, train.stderr[-2000:]
    evaluate = subprocess.run([sys.executable, "-m", "mf.cli", "run", "--task", "translation", "--model_type", str(out),
                               "--run_mode", "eval", "--eval_dataset", str(data), "--seq_length", "16",
                               "--generation_max_length", "6"], capture_output=True, text=True, timeout=600)
    assert evaluate.returncode == 0, evaluate.stderr[-2000:]
    assert "eval_bleu" in evaluate.stdout and "eval_chrf" in evaluate.stdout


def test_span_corruption_drops_spans_behind_sentinels():
    rng = np.random.default_rng(0)
    mask = noise_span_mask(100, 0.15, 3.0, rng)
    assert mask.sum() == 15 and not mask[0]  # T5 starts with kept tokens
    spans = int(np.sum(mask[1:] & ~mask[:-1]))
    assert spans == 5
    tokens = np.arange(10, 110)
    source, target = span_corruption(tokens, mask, [999 - i for i in range(100)])
    assert len(source) == 85 + spans and len(target) == 15 + spans
    # putting each span back after its sentinel gives the text again
    rebuilt, spans_by_sentinel, current = [], {}, None
    for token in target:
        if token >= 990:
            current = token
            spans_by_sentinel[current] = []
        else:
            spans_by_sentinel[current].append(token)
    for token in source:
        rebuilt += spans_by_sentinel[token] if token in spans_by_sentinel else [token]
    assert rebuilt == tokens.tolist()


def test_span_corruption_pretrains_t5(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(SENTENCES * 6))
    trainer = Trainer(task="span_corruption", model=_fresh_t5_tiny(), args=_args(tmp_path / "out", 4, predict_with_generate=False),
                      train_dataset=str(corpus), eval_dataset=str(corpus))
    examples = trainer._read_examples(str(corpus), trainer.model.config)
    batch = SpanCorruption().collate(next(examples.batches(2)), np.random.default_rng(0), examples)
    sentinel = trainer.tokenizer.convert_tokens_to_ids("<extra_id_0>")
    assert (batch["input_ids"] == sentinel).any() and batch["labels"][0, 0] == sentinel
    before = trainer.evaluate()["eval_loss"]
    trainer.train()
    assert trainer.evaluate()["eval_loss"] < before
