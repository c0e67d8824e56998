"""The four BERT tasks end to end on bert_tiny: each task's data format read into model inputs, a short
Trainer run that lowers the loss, evaluation with the task's metrics, the saved model reloaded as its
head, and the task's pipeline on the result (run as a user would: Trainer, pipeline, `mf run`)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mf import AutoModel, AutoTokenizer, Trainer, TrainingArguments, pipeline
from mf.data import DatasetError
from mf.errors import MFError
from mf.nn.losses import IGNORE_INDEX
from mf.tasks import QuestionAnswering, SequenceClassification, TokenClassification, mask_tokens

SQUAD_SAMPLE = Path(__file__).resolve().parents[4] / "shared" / "data" / "qa" / "squad-v1.1-sample.json"
POSITIVE = ["great movie loved it", "wonderful acting and story", "i enjoyed every minute", "a delight to watch"]
NEGATIVE = ["terrible film hated it", "boring and far too long", "i want my money back", "awful acting"]
CONTEXT = "The cat sat on the mat. The dog slept in the garden all day long."


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained("bert_base_uncased")


def _args(out, steps=30, **overrides):
    return TrainingArguments(output_dir=str(out), max_steps=steps, batch_size=8, learning_rate=5e-3, seq_length=32,
                             logging_steps=10, warmup_steps=0, save_steps=0, **overrides)


def _write_jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def _losses(trainer):
    return [r["loss"] for r in trainer.state.log_history if "loss" in r]


# ---- text classification ---------------------------------------------------------------------
def test_text_classification_trains_evaluates_saves_and_serves(tmp_path):
    rng = np.random.default_rng(0)
    records = [{"text": t, "label": "positive" if t in POSITIVE else "negative"}
               for t in rng.choice(POSITIVE + NEGATIVE, 64)]
    data = _write_jsonl(tmp_path / "reviews.jsonl", records)
    trainer = Trainer(task="text_classification", model="bert_tiny", args=_args(tmp_path / "out"),
                      train_dataset=str(data), eval_dataset=str(data))
    trainer.train()
    losses = _losses(trainer)
    assert losses[-1] < losses[0] * 0.5, losses
    metrics = trainer.evaluate()
    assert metrics["eval_accuracy"] >= 0.9 and metrics["eval_macro_f1"] >= 0.9, metrics
    # the trained classifier's labels are fixed: data with another label is refused, not silently renumbered
    other = _write_jsonl(tmp_path / "other.jsonl", [{"text": "so-so", "label": "neutral"}])
    with pytest.raises(DatasetError, match=r"labels \['neutral'\] that the model's labels \(negative, positive\) lack"):
        trainer.evaluate(eval_dataset=str(other))

    model = AutoModel.from_pretrained(str(tmp_path / "out"))  # config.json names the head it was saved from
    assert type(model).__name__ == "BertForSequenceClassification"
    assert model.config.labels() == ["negative", "positive"]
    classify = pipeline("text_classification", model=str(tmp_path / "out"))
    assert [r["label"] for r in classify(["great movie loved it", "awful acting"])] == ["positive", "negative"]


def test_text_classification_reads_pairs_and_integer_labels(tmp_path, tokenizer):
    data = _write_jsonl(tmp_path / "pairs.jsonl", [{"text": "a cat", "text_pair": "a small cat", "label": 2},
                                                  {"sentence1": "dogs", "sentence2": "cats", "label": 0}])
    examples = SequenceClassification().read(data, tokenizer, 16)
    assert examples.arrays["labels"].tolist() == [2, 0]
    assert examples.info["label_names"] == ["LABEL_0", "LABEL_1", "LABEL_2"]
    first = examples.arrays["input_ids"][0].tolist()
    assert first[:len(tokenizer("a cat", "a small cat")["input_ids"])] == tokenizer("a cat", "a small cat")["input_ids"]
    assert examples.arrays["token_type_ids"][0].tolist()[4:8] == [1, 1, 1, 1]  # [CLS] a cat [SEP] | a small cat [SEP]
    assert examples.arrays["attention_mask"][0].sum() == 8 and examples.arrays["input_ids"].shape == (2, 16)


def test_text_classification_bad_lines_name_the_line(tmp_path, tokenizer):
    data = tmp_path / "bad.jsonl"
    data.write_text('{"text": "fine", "label": 1}\n{"label": 0}\n', encoding="utf-8")
    with pytest.raises(DatasetError, match=r"bad.jsonl:2: no text.*on_bad_line='skip'"):
        SequenceClassification().read(data, tokenizer, 16)
    with pytest.warns(UserWarning, match="skipping"):
        assert len(SequenceClassification().read(data, tokenizer, 16, on_bad_line="skip")) == 1


# ---- token classification --------------------------------------------------------------------
def test_cluener_spans_become_bio_tags(tmp_path, tokenizer):
    data = _write_jsonl(tmp_path / "cluener.json", [
        {"text": "浙商银行企业信贷部叶老桂博士",
         "label": {"name": {"叶老桂": [[9, 11]]}, "company": {"浙商银行": [[0, 3]]}}}])
    from mf.tasks import read_cluener

    [(chars, tags)] = read_cluener(data)
    assert chars[9:12] == ["叶", "老", "桂"]
    assert tags == ["B-company", "I-company", "I-company", "I-company"] + ["O"] * 5 + ["B-name", "I-name", "I-name",
                                                                                       "O", "O"]
    bad = _write_jsonl(tmp_path / "bad.json", [{"text": "abc", "label": {"name": {"xyz": [[0, 2]]}}}])
    with pytest.raises(DatasetError, match=r"bad.json:1: span \[0, 2\] of name is not 'xyz'"):
        read_cluener(bad)


def test_token_classification_trains_and_groups_entities(tmp_path, tokenizer):
    data = tmp_path / "ner.conll"
    data.write_text("John B-PER\nlives O\nin O\nNew B-LOC\nYork I-LOC\n. O\n\nMary B-PER\nvisited O\nParis B-LOC\n\n"
                    * 24, encoding="utf-8")
    examples = TokenClassification().read(data, tokenizer, 16)
    assert examples.info["label_names"][0] == "O"
    row = examples.arrays["labels"][0].tolist()
    names = examples.info["label_names"]
    assert [names[i] for i in row if i != IGNORE_INDEX] == ["B-PER", "O", "O", "B-LOC", "I-LOC", "O"]

    trainer = Trainer(task="token_classification", model="bert_tiny", args=_args(tmp_path / "out"),
                      train_dataset=str(data), eval_dataset=str(data))
    trainer.train()
    metrics = trainer.evaluate()
    assert metrics["eval_f1"] >= 0.9 and {"eval_PER_f1", "eval_LOC_f1"} <= set(metrics), metrics

    ner = pipeline("token_classification", model=str(tmp_path / "out"))
    text = "John lives in New York ."
    entities = ner(text)
    assert [(e["entity_group"], e["word"]) for e in entities] == [("PER", "John"), ("LOC", "New York")]
    assert all(text[e["start"]:e["end"]] == e["word"] for e in entities)
    tokens = ner(text, aggregation_strategy="none")
    assert [t["entity"] for t in tokens] == ["B-PER", "B-LOC", "I-LOC"] and tokens[0]["index"] == 1
    with pytest.raises(MFError, match="aggregation_strategy must be one of"):
        ner(text, aggregation_strategy="longest")


def test_token_classification_word_aggregation_on_subwords():
    from mf.pipelines.token_classification import TokenClassificationPipeline

    names = ["O", "B-PER", "I-PER"]
    one_hot = np.eye(3)
    # "Jonathanson visits": the name is two word pieces; the second piece alone says O
    tokens = [dict(index=1, word_index=0, start=0, end=8, scores=one_hot[1] * 0.9 + 0.05, token="jonathan"),
              dict(index=2, word_index=0, start=8, end=11, scores=one_hot[0] * 0.6 + 0.2, token="##son"),
              dict(index=3, word_index=1, start=12, end=18, scores=one_hot[0], token="visits")]
    text = "Jonathanson visits"
    first = TokenClassificationPipeline._entities(text, tokens, names, "first", {"O"})
    assert first == [{"entity_group": "PER", "score": pytest.approx(0.95), "word": "Jonathanson", "start": 0,
                      "end": 11}]
    simple = TokenClassificationPipeline._entities(text, tokens, names, "simple", {"O"})
    assert [e["word"] for e in simple] == ["Jonathan"]  # token level: the O piece is left out


# ---- question answering -----------------------------------------------------------------------
def _squad(path, pairs):
    qas = [{"id": f"q{i}", "question": q, "answers": [{"text": a, "answer_start": CONTEXT.index(a)}]}
           for i, (q, a) in enumerate(pairs)]
    path.write_text(json.dumps({"data": [{"title": "t", "paragraphs": [{"context": CONTEXT, "qas": qas}]}]}))
    return path


def test_question_answering_windows_point_at_the_answer(tmp_path, tokenizer):
    data = _squad(tmp_path / "squad.json", [("Where did the cat sit?", "on the mat"),
                                            ("Where did the dog sleep?", "in the garden")])
    # 20 tokens leave 10 for the context per window: two windows overlapping by 4
    examples = QuestionAnswering(stride=4).read(data, tokenizer, 20)
    assert len(examples) == 4 and examples.info["owner"] == [0, 0, 1, 1]
    for row, answer in ((0, "on the mat"), (3, "in the garden")):
        start, end = examples.arrays["start_positions"][row], examples.arrays["end_positions"][row]
        assert tokenizer.decode(examples.arrays["input_ids"][row][start:end + 1]) == answer
    # a window without the whole answer points at [CLS]
    assert examples.arrays["start_positions"][1] == 0 and examples.arrays["end_positions"][2] == 0


def test_best_span_is_taken_over_all_windows(tokenizer):
    from mf.tasks import best_spans, make_features

    features = make_features(tokenizer, "Where did the dog sleep?", CONTEXT, 20, 4)
    start, end = np.zeros((2, 20)), np.zeros((2, 20))
    target = [i for i, s in enumerate(features[1].spans) if s and CONTEXT[s[0]:s[1]] == "garden"][0]
    start[1, target - 2], end[1, target] = 9.0, 9.0  # "in the garden" in the second window
    end[0, 3] = 50.0  # a huge score outside the context (the question) never wins
    [(score, begin, finish)] = best_spans(start, end, features)
    assert CONTEXT[begin:finish] == "in the garden" and 0 < score <= 1


def test_question_answering_trains_and_answers_long_contexts(tmp_path, tokenizer):
    data = _squad(tmp_path / "squad.json", [("Where did the cat sit?", "on the mat"),
                                            ("Where did the dog sleep?", "in the garden")] * 8)
    trainer = Trainer(task="question_answering", model="bert_tiny", args=_args(tmp_path / "out", steps=20),
                      train_dataset=str(data), eval_dataset=str(data))
    trainer.train()
    losses = _losses(trainer)
    assert losses[-1] < losses[0], losses
    metrics = trainer.evaluate()
    assert 0 <= metrics["eval_exact_match"] <= metrics["eval_f1"] <= 100

    answer = pipeline("question_answering", model=str(tmp_path / "out"))
    long_context = " ".join([CONTEXT] * 12)  # ~200 tokens, the model reads 64 at a time
    result = answer(question="Where did the dog sleep?", context=long_context, max_length=64, stride=16)
    assert long_context[result["start"]:result["end"]] == result["answer"] and result["answer"]
    top = answer({"question": "Where did the cat sit?", "context": CONTEXT}, top_k=3)
    assert len(top) == 3 and top[0]["score"] >= top[1]["score"] >= top[2]["score"]

    # the same from the command line (the tutorial's predict mode)
    question = json.dumps({"question": "Where did the cat sit?", "context": CONTEXT})
    done = subprocess.run([sys.executable, "-m", "mf.cli", "run", "--task", "question_answering", "--load_checkpoint",
                           str(tmp_path / "out"), "--run_mode", "predict", "--predict_data", question],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "'answer':" in done.stdout, done.stderr[-2000:]


@pytest.mark.skipif(not SQUAD_SAMPLE.is_file(), reason="../shared/data/qa/squad-v1.1-sample.json is not here")
def test_question_answering_pipeline_on_the_squad_sample(tokenizer):
    from mf.tasks.question_answering import read_squad
    from mf_bert import BertConfig, BertForQuestionAnswering

    model = BertForQuestionAnswering(BertConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64,
                                                seq_length=64))
    answer = pipeline("question_answering", model=model, tokenizer=tokenizer)
    questions = read_squad(SQUAD_SAMPLE)
    assert any(len(tokenizer(c)["input_ids"]) > 64 for _, _, c, _, _ in questions)  # longer than the model
    for _, question, context, _, _ in questions:
        result = answer(question=question, context=context, max_length=64, stride=16)
        assert context[result["start"]:result["end"]] == result["answer"] != ""


# ---- masked language modelling ----------------------------------------------------------------
def test_mask_tokens_follows_bert_recipe():
    rng = np.random.default_rng(0)
    ids = rng.integers(5, 1000, size=(200, 100)).astype(np.int32)
    special = np.zeros_like(ids, bool)
    special[:, 0] = True
    masked, labels = mask_tokens(ids, special, mask_id=3, vocab_size=1000, rng=rng)
    chosen = labels != IGNORE_INDEX
    assert abs(chosen.mean() - 0.15) < 0.01 and not chosen[:, 0].any()
    assert (labels[chosen] == ids[chosen]).all() and (masked[~chosen] == ids[~chosen]).all()
    assert abs((masked[chosen] == 3).mean() - 0.8) < 0.02
    assert abs((masked[chosen] == ids[chosen]).mean() - 0.1) < 0.02  # kept (plus rare random hits)


def test_masked_lm_pretrains_with_dynamic_masks(tmp_path):
    text = tmp_path / "corpus.txt"
    text.write_text("\n\n".join(["the quick brown fox jumps over the lazy dog. " * 12] * 8), encoding="utf-8")
    trainer = Trainer(task="fill_mask", model="bert_tiny", args=_args(tmp_path / "out"), train_dataset=str(text),
                      eval_dataset=str(text))
    trainer.train()
    losses = _losses(trainer)
    assert losses[-1] < losses[0], losses
    first, second = trainer.evaluate(), trainer.evaluate()
    assert first == second  # evaluation masks with a fixed seed
    assert np.isclose(first["eval_perplexity"], np.exp(first["eval_loss"])) and first["eval_masked_accuracy"] > 0.2


# ---- errors and the command line ---------------------------------------------------------------
def test_a_model_without_the_tasks_role_is_refused(tmp_path):
    pytest.importorskip("mf_gpt", reason="needs a family without the role: GPT-2 (mf-gpt)")
    data = _write_jsonl(tmp_path / "d.jsonl", [{"text": "x", "label": 0}] * 8)
    trainer = Trainer(task="text_classification", model="gpt2", args=_args(tmp_path / "out"), train_dataset=str(data))
    with pytest.raises(MFError, match="model type 'gpt2' has no sequence_classification model"):
        trainer.train()


def test_mf_run_text_classification_train_eval_predict(tmp_path):
    rng = np.random.default_rng(1)
    records = [{"text": t, "label": int(t in POSITIVE)} for t in rng.choice(POSITIVE + NEGATIVE, 48)]
    data = _write_jsonl(tmp_path / "train.jsonl", records)
    out = tmp_path / "run"
    common = ["--task", "text_classification", "--output_dir", str(out), "--seq_length", "32"]

    def mf(*args):
        done = subprocess.run([sys.executable, "-m", "mf.cli", "run", *common, *args], capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    mf("--model_type", "bert_tiny", "--run_mode", "train", "--train_dataset", str(data), "--max_steps", "24",
       "--learning_rate", "0.005", "--warmup_steps", "0", "--save_steps", "0")
    metrics = json.loads(mf("--load_checkpoint", str(out), "--run_mode", "eval", "--eval_dataset", str(data))
                         .strip().splitlines()[-1])
    assert metrics["eval_accuracy"] >= 0.9, metrics
    predicted = mf("--load_checkpoint", str(out), "--run_mode", "predict", "--predict_data", "awful acting")
    assert "LABEL_0" in predicted


def test_group_by_length_cuts_batches_to_fixed_widths_and_scores_the_same(tmp_path, tokenizer):
    rng = np.random.default_rng(3)
    lines = []
    for _ in range(40):  # sentences of 1 to 20 words
        words = rng.choice(["John", "Mary", "lives", "in", "Paris", "and", "New", "York"], rng.integers(1, 21))
        tags = ["B-PER" if w in ("John", "Mary") else "B-LOC" if w in ("Paris", "New") else
                "I-LOC" if w == "York" else "O" for w in words]
        lines.append("\n".join(f"{w} {t}" for w, t in zip(words, tags)))
    data = tmp_path / "ner.conll"
    data.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    examples = TokenClassification().read(data, tokenizer, 32)
    examples.group_by_length = True
    assert examples.widths() == [8, 16, 32]
    seen = []
    for batch in examples.batches(4, epoch=1, seed=0, drop_last=False):
        width = batch["input_ids"].shape[1]
        assert width in (8, 16, 32) and batch["labels"].shape[1] == width
        assert batch["attention_mask"].sum(1).max() <= width
        assert width == 8 or batch["attention_mask"].sum(1).max() > width // 2  # the smallest width that fits
        seen.extend(batch["row_index"].tolist())
    assert sorted(seen) == list(range(len(examples)))
    assert examples.num_batches(4, drop_last=False) == len(list(examples.batches(4, drop_last=False)))

    def run(group):
        trainer = Trainer(task="token_classification", model="bert_tiny", tokenizer=tokenizer,
                          args=_args(tmp_path / f"out{group}", steps=6, group_by_length=group),
                          train_dataset=str(data), eval_dataset=str(data))
        trainer.train()
        return trainer, trainer.evaluate()

    trainer, grouped = run(True)
    trainer.args.group_by_length = False  # the same weights, scored without grouping
    plain = trainer.evaluate()
    assert grouped["eval_f1"] == plain["eval_f1"] and grouped["eval_loss"] == pytest.approx(plain["eval_loss"], 1e-4)
