"""The token_classification task (named entities), with transformers' output and aggregation:

- aggregation_strategy="none": one dict per labelled token
  {"entity": "B-PER", "score", "index", "word", "start", "end"};
- "simple": adjacent tokens of one entity (B-X then I-X...) grouped into
  {"entity_group": "PER", "score" (mean), "word", "start", "end"};
- "first" / "average" / "max": each word labelled as a whole first (by its first token, by the
  average of its tokens' probabilities, or by its most confident token), then grouped as "simple".
`word` is the text's own characters [start, end); "O" is left out.
"""
import numpy as np
from mindspore import Tensor

from ..generation import GenerationError
from .base import Pipeline
from .encoder_inputs import softmax

STRATEGIES = ("none", "simple", "first", "average", "max")


class TokenClassificationPipeline(Pipeline):
    task = "token_classification"
    unwrap_single = True

    def run_batch(self, items, aggregation_strategy="simple", max_length=None, ignore_labels=("O",)):
        if aggregation_strategy not in STRATEGIES:
            raise GenerationError(f"aggregation_strategy must be one of {', '.join(STRATEGIES)}, "
                                  f"got {aggregation_strategy!r}")
        for text in items:
            if not isinstance(text, str):
                raise TypeError(f"token_classification takes text, got {text!r}")
        limit = max_length or min(getattr(self.tokenizer, "model_max_length", None) or 512,
                                  getattr(self.model.config, "seq_length", 512))
        tokenizer = self.tokenizer
        encoded = []
        for text in items:
            ids, spans, words = tokenizer.tokenize_with_offsets(text)
            keep = limit - tokenizer.num_special_tokens_to_add()
            encoded.append((ids[:keep], spans[:keep], words[:keep]))
        width = max(len(tokenizer.build_inputs_with_special_tokens(ids)) for ids, _, _ in encoded)
        rows, masks, positions = [], [], []
        for ids, _, _ in encoded:
            marks = [-(i + 1) for i in range(len(ids))]
            layout = tokenizer.build_inputs_with_special_tokens(marks)
            positions.append([layout.index(m) for m in marks])
            full = [ids[-m - 1] if m < 0 else m for m in layout]
            rows.append(full + [tokenizer.pad_token_id or 0] * (width - len(full)))
            masks.append([1] * len(full) + [0] * (width - len(full)))
        self.model.set_train(False)
        ids = Tensor(np.asarray(rows, np.int32))
        logits = self.model(ids, Tensor(np.asarray(masks, np.int32)), Tensor(np.zeros_like(rows, np.int32)))
        probabilities = softmax((logits[0] if isinstance(logits, tuple) else logits).asnumpy())
        names = self.model.config.labels()
        results = []
        for row, (text, (token_ids, spans, words)) in enumerate(zip(items, encoded)):
            scores = probabilities[row, positions[row]] if token_ids else np.zeros((0, len(names)))
            tokens = [{"index": positions[row][i], "word_index": words[i], "start": spans[i][0], "end": spans[i][1],
                       "scores": scores[i], "token": tokenizer.id_to_token(token_ids[i])}
                      for i in range(len(token_ids))]
            results.append(self._entities(text, tokens, names, aggregation_strategy, set(ignore_labels)))
        return results

    @staticmethod
    def _entities(text, tokens, names, strategy, ignore):
        if strategy == "none":
            out = []
            for token in tokens:
                best = int(token["scores"].argmax())
                if names[best] not in ignore:
                    out.append({"entity": names[best], "score": float(token["scores"][best]), "index": token["index"],
                                "word": token["token"], "start": token["start"], "end": token["end"]})
            return out
        if strategy == "simple":
            units = [(t["scores"], t["start"], t["end"]) for t in tokens]
        else:
            units = []
            for word in _words(tokens):
                stacked = np.stack([t["scores"] for t in word])
                if strategy == "first":
                    scores = stacked[0]
                elif strategy == "average":
                    scores = stacked.mean(0)
                else:
                    scores = stacked[int(stacked.max(1).argmax())]
                units.append((scores, word[0]["start"], word[-1]["end"]))
        labelled = []
        for scores, start, end in units:
            best = int(scores.argmax())
            labelled.append((names[best], float(scores[best]), start, end))
        return _group(text, labelled, ignore)


def _words(tokens):
    groups = []
    for token in tokens:
        if groups and groups[-1][-1]["word_index"] == token["word_index"]:
            groups[-1].append(token)
        else:
            groups.append([token])
    return groups


def _group(text, labelled, ignore):
    """Adjacent units of one entity type, a B- starting a new group (transformers' group_entities)."""
    groups = []
    for label, score, start, end in labelled:
        prefix, kind = (label.split("-", 1) if label[:2] in ("B-", "I-", "E-", "S-") else ("I", label))
        if groups and groups[-1]["kind"] == kind and prefix not in ("B", "S"):
            groups[-1]["scores"].append(score)
            groups[-1]["end"] = end
        else:
            groups.append({"kind": kind, "scores": [score], "start": start, "end": end, "label": label})
    return [{"entity_group": g["kind"], "score": float(np.mean(g["scores"])), "word": text[g["start"]:g["end"]],
             "start": g["start"], "end": g["end"]}
            for g in groups if g["kind"] not in ignore and g["label"] not in ignore]
