"""translation (and any text-to-text task): source text in, target text out, on an encoder-decoder.

Data: JSONL lines {"source": ..., "target": ...}, or {"translation": {"en": ..., "de": ...}} with the
languages named by TrainingArguments.source_lang / target_lang (as transformers' run_translation).
A source_prefix (T5's "translate English to German: ") is put before every source; with language codes
and no prefix, T5's own wording is used for the languages it was trained on.

Rows hold the sources (input_ids, attention_mask), the decoder inputs (the targets shifted right after
decoder_start_token_id) and the labels (the targets, padding ignored). Evaluation reports the loss,
then generates every source's translation and scores it against the reference with sacreBLEU's corpus
BLEU and chrF.

span_corruption (T5's pre-training objective) reads plain text and, in every batch afresh, replaces
random spans of the tokens by sentinels; the target lists the dropped spans after their sentinels.
"""
from typing import Dict, List

import numpy as np

from ..data.blocks import DatasetError
from ..metrics import bleu, chrf
from ..nn.losses import IGNORE_INDEX
from .objective import Examples, Objective
from .reading import bad_line, existing_file, json_records, token_rows

# T5's task prefixes name languages in English
LANGUAGE_NAMES = {"en": "English", "de": "German", "fr": "French", "ro": "Romanian", "es": "Spanish",
                  "zh": "Chinese", "it": "Italian", "pt": "Portuguese", "nl": "Dutch", "ru": "Russian",
                  "ja": "Japanese"}
SEQ2SEQ_NAMES = ("input_ids", "attention_mask", "decoder_input_ids", "decoder_attention_mask", "labels")


def default_prefix(source_lang, target_lang) -> str:
    """T5's prefix for a language pair ("translate English to German: "), or "" for unknown codes."""
    source, target = LANGUAGE_NAMES.get(source_lang or ""), LANGUAGE_NAMES.get(target_lang or "")
    return f"translate {source} to {target}: " if source and target else ""


def seq2seq_rows(tokenizer, sources: List[str], targets: List[str], source_length: int, target_length: int,
                 decoder_start_token_id: int) -> Dict[str, np.ndarray]:
    """Fixed-width arrays of (source, target) pairs: encoder inputs, decoder inputs and labels."""
    pad = tokenizer.pad_token_id
    if pad is None:
        raise DatasetError(f"{type(tokenizer).__name__} has no pad_token; sequence-to-sequence tasks pad to a "
                           f"fixed length")
    encoded = tokenizer(sources, truncation=True, max_length=source_length, padding="max_length")
    labels = tokenizer(targets, truncation=True, max_length=target_length, padding="max_length")
    label_ids = np.asarray(labels["input_ids"], np.int32)
    label_mask = np.asarray(labels["attention_mask"], np.int32)
    decoder_inputs = np.concatenate([np.full((len(targets), 1), decoder_start_token_id, np.int32),
                                     label_ids[:, :-1]], axis=1)
    decoder_mask = np.concatenate([np.ones((len(targets), 1), np.int32), label_mask[:, :-1]], axis=1)
    return {"input_ids": np.asarray(encoded["input_ids"], np.int32),
            "attention_mask": np.asarray(encoded["attention_mask"], np.int32),
            "decoder_input_ids": decoder_inputs, "decoder_attention_mask": decoder_mask,
            "labels": np.where(label_mask == 1, label_ids, IGNORE_INDEX).astype(np.int32)}


class Seq2SeqObjective(Objective):
    """What the sequence-to-sequence objectives share: the model's arrays and how they are counted."""

    role = "seq2seq_lm"
    label_names = ("labels",)
    row_outputs = False

    def model_arrays(self, batch):
        return [batch[name].astype(np.int32) for name in SEQ2SEQ_NAMES]

    def reduce_outputs(self, outputs, batch):
        return []  # the logits are too large to keep; generation_metrics scores the translations

    def target_length(self, seq_length: int) -> int:
        return int(self._option("max_target_length", seq_length))


class Translation(Seq2SeqObjective):
    formats = ('JSONL lines {"source": ..., "target": ...} or {"translation": {"<source_lang>": ..., '
               '"<target_lang>": ...}}')

    def read(self, source, tokenizer, seq_length, config=None, on_bad_line="fail") -> Examples:
        path = existing_file(source, self.formats)
        source_lang, target_lang = self._option("source_lang"), self._option("target_lang")
        prefix = self._option("source_prefix")
        if prefix is None:
            prefix = default_prefix(source_lang, target_lang) if getattr(config, "model_type", "") == "t5" else ""
        sources, targets = [], []
        for number, record in json_records(path, on_bad_line):
            pair = self._pair(record, source_lang, target_lang)
            if isinstance(pair, str):
                bad_line(f"{path}:{number}: {pair}", on_bad_line)
                continue
            sources.append(prefix + pair[0])
            targets.append(pair[1])
        if not sources:
            raise DatasetError(f"{path} has no translation pairs; expected {self.formats}")
        start = getattr(config, "decoder_start_token_id", None)
        start = tokenizer.pad_token_id if start is None else start
        arrays = seq2seq_rows(tokenizer, sources, targets, seq_length, self.target_length(seq_length), start)
        return Examples(arrays, str(path), {"sources": sources, "references": targets})

    def _pair(self, record, source_lang, target_lang):
        """(source, target) of a record, or what is wrong with it."""
        if "translation" in record:
            languages = record["translation"]
            if not isinstance(languages, dict):
                return "'translation' must be an object of language -> text"
            if not source_lang or not target_lang:
                return (f"records of {{'translation': {{...}}}} need source_lang and target_lang (languages here: "
                        f"{', '.join(map(str, languages))}); set them in TrainingArguments or with --source_lang "
                        f"/ --target_lang")
            missing = [lang for lang in (source_lang, target_lang) if lang not in languages]
            if missing:
                return f"no {', '.join(missing)} text (languages here: {', '.join(map(str, languages))})"
            pair = (languages[source_lang], languages[target_lang])
        elif "source" in record and "target" in record:
            pair = (record["source"], record["target"])
        else:
            return f'expected {{"source": ..., "target": ...}} or {{"translation": {{...}}}}, got keys {sorted(record)}'
        if not all(isinstance(text, str) for text in pair):
            return f"source and target must be text, got {type(pair[0]).__name__} and {type(pair[1]).__name__}"
        return pair

    def generation_metrics(self, model, tokenizer, examples: Examples, batch_size: int) -> Dict[str, float]:
        """Generate every source's translation (greedy, or generation_num_beams) and score it."""
        if not self._option("predict_with_generate", True):
            return {}
        ids, mask = examples.arrays["input_ids"], examples.arrays["attention_mask"]
        max_length = int(self._option("generation_max_length", examples.arrays["labels"].shape[1]))
        beams = int(self._option("generation_num_beams", 1))
        hypotheses = []
        for start in range(0, len(ids), batch_size):
            rows = np.arange(start, min(start + batch_size, len(ids)))
            real = len(rows)
            # every batch the same shape (the last one filled up), so one compiled graph serves them all
            rows = np.concatenate([rows, np.full(batch_size - real, rows[-1])])
            output = model.generate(ids[rows], attention_mask=mask[rows], max_new_tokens=max_length, num_beams=beams)
            hypotheses += tokenizer.batch_decode(output[:real], skip_special_tokens=True)
        hypotheses = [h.strip() for h in hypotheses]
        references = examples.info["references"]
        lengths = [len(tokenizer(h, add_special_tokens=False)["input_ids"]) for h in hypotheses]
        scores = bleu(hypotheses, references)
        return {"bleu": scores["bleu"], "chrf": chrf(hypotheses, references), "gen_len": float(np.mean(lengths))}


def noise_span_mask(length: int, noise_density: float, mean_noise_span_length: float,
                    rng: np.random.Generator) -> np.ndarray:
    """Which of `length` tokens T5's span corruption drops: round(length * noise_density) of them, in
    round(noise / mean_noise_span_length) spans, span lengths and gaps drawn at random (T5's
    random_spans_noise_mask)."""
    noise = int(np.clip(round(length * noise_density), 1, length - 1))
    spans = max(int(round(noise / mean_noise_span_length)), 1)

    def split(total, pieces):  # `pieces` random positive lengths summing to `total`
        cuts = np.sort(rng.choice(np.arange(1, total), pieces - 1, replace=False)) if pieces > 1 else []
        return np.diff(np.concatenate([[0], cuts, [total]])).astype(int)

    noise_lengths, keep_lengths = split(noise, spans), split(length - noise, spans)
    mask = np.zeros(length, bool)
    position = 0
    for keep, drop in zip(keep_lengths, noise_lengths):  # T5 starts with kept tokens
        position += keep
        mask[position:position + drop] = True
        position += drop
    return mask


def span_corruption(tokens: np.ndarray, mask: np.ndarray, sentinel_ids: List[int]):
    """(input, target) of one token row: each dropped span becomes one sentinel in the input; the target
    is each sentinel followed by the tokens it replaced."""
    inputs, targets, sentinel = [], [], 0
    previous = False
    for token, dropped in zip(tokens.tolist(), mask.tolist()):
        if dropped:
            if not previous:
                inputs.append(sentinel_ids[sentinel])
                targets.append(sentinel_ids[sentinel])
                sentinel += 1
            targets.append(token)
        else:
            inputs.append(token)
        previous = dropped
    return inputs, targets


class SpanCorruption(Seq2SeqObjective):
    """T5's pre-training: text packed into rows, spans replaced by sentinels afresh in every batch."""

    formats = ".txt (blank-line separated documents) or JSONL lines with \"text\""

    def __init__(self, noise_density: float = 0.15, mean_noise_span_length: float = 3.0):
        super().__init__()
        self.noise_density, self.mean_noise_span_length = noise_density, mean_noise_span_length

    def read(self, source, tokenizer, seq_length, config=None, on_bad_line="fail") -> Examples:
        path = existing_file(source, self.formats)
        sentinels = [tokenizer.token_to_id(f"<extra_id_{i}>") for i in range(100)]
        sentinels = [s for s in sentinels if s is not None]
        if not sentinels or tokenizer.eos_token_id is None or tokenizer.pad_token_id is None:
            raise DatasetError(f"{type(tokenizer).__name__} lacks T5's sentinels (<extra_id_N>), </s> or <pad>; "
                               f"span corruption needs them")
        # a row of raw tokens fits seq_length once spans are replaced by sentinels and </s> added
        raw = token_rows(path, tokenizer, tokenizer.eos_token_id, seq_length - 1, on_bad_line)
        rows = len(raw)
        target_length = self.target_length(seq_length)
        # filled by collate; the mask says "full length" so that group_by_length keeps every column
        arrays = {"raw": raw, "input_ids": np.zeros((rows, seq_length), np.int32),
                  "attention_mask": np.ones((rows, seq_length), np.int32),
                  "decoder_input_ids": np.zeros((rows, target_length), np.int32),
                  "decoder_attention_mask": np.zeros((rows, target_length), np.int32),
                  "labels": np.zeros((rows, target_length), np.int32)}
        start = getattr(config, "decoder_start_token_id", None)
        return Examples(arrays, str(path), {"sentinels": sentinels, "eos": tokenizer.eos_token_id,
                                            "pad": tokenizer.pad_token_id,
                                            "start": tokenizer.pad_token_id if start is None else start})

    def collate(self, batch, rng, examples, training=False):
        info = examples.info
        width, target_width = batch["input_ids"].shape[1], batch["labels"].shape[1]
        out = {name: np.full_like(batch[name], fill) for name, fill in (
            ("input_ids", info["pad"]), ("attention_mask", 0), ("decoder_input_ids", info["pad"]),
            ("decoder_attention_mask", 0), ("labels", IGNORE_INDEX))}
        for row, tokens in enumerate(batch["raw"]):
            mask = noise_span_mask(len(tokens), self.noise_density, self.mean_noise_span_length, rng)
            source, target = span_corruption(tokens, mask, info["sentinels"])
            source, target = (source + [info["eos"]])[:width], (target + [info["eos"]])[:target_width]
            out["input_ids"][row, :len(source)] = source
            out["attention_mask"][row, :len(source)] = 1
            out["labels"][row, :len(target)] = target
            decoder = [info["start"]] + target[:-1]
            out["decoder_input_ids"][row, :len(decoder)] = decoder
            out["decoder_attention_mask"][row, :len(decoder)] = 1
        return {**batch, **out}
