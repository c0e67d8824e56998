"""fill_mask (masked language modelling): BERT's pre-training objective.

Text (.txt paragraphs or JSONL {"text"}) is tokenized and packed into rows of
[CLS] tokens... [SEP] of seq_length. Each batch is masked afresh (collate): 15% of the real tokens are
chosen; of those 80% become [MASK], 10% a random token, 10% stay; only chosen tokens are labelled.
Evaluation masks with a fixed seed, so numbers are comparable between runs. Metrics: masked-token
accuracy and perplexity.
"""
import numpy as np

from ..data.blocks import DatasetError
from ..nn.losses import IGNORE_INDEX
from .objective import Examples, Objective
from .reading import existing_file, token_rows


def mask_tokens(input_ids, special, mask_id, vocab_size, rng, probability=0.15):
    """(masked input_ids, labels) for a batch, as BERT's 15% / 80-10-10 recipe."""
    chosen = (rng.random(input_ids.shape) < probability) & ~special
    labels = np.where(chosen, input_ids, IGNORE_INDEX).astype(np.int32)
    masked = input_ids.copy()
    draw = rng.random(input_ids.shape)
    masked[chosen & (draw < 0.8)] = mask_id
    randomised = chosen & (draw >= 0.8) & (draw < 0.9)
    masked[randomised] = rng.integers(0, vocab_size, size=int(randomised.sum()))
    return masked, labels


class MaskedLanguageModelling(Objective):
    row_outputs = False
    role = "masked_lm"
    label_names = ("labels",)
    formats = ".txt (blank-line separated documents) or JSONL lines with \"text\""

    def __init__(self, probability: float = 0.15):
        self.probability = probability

    def read(self, source, tokenizer, seq_length, config=None, on_bad_line="fail") -> Examples:
        path = existing_file(source, self.formats)
        for name in ("mask_token_id", "cls_token_id", "sep_token_id", "pad_token_id"):
            if getattr(tokenizer, name) is None:
                raise DatasetError(f"{type(tokenizer).__name__} has no {name[:-3]}; masked language modelling "
                                   f"needs [CLS], [SEP], [MASK] and [PAD]")
        body = token_rows(path, tokenizer, tokenizer.sep_token_id, seq_length - 2, on_bad_line)  # + [CLS], [SEP]
        rows = len(body)
        ids = np.concatenate([np.full((rows, 1), tokenizer.cls_token_id, np.int32), body,
                              np.full((rows, 1), tokenizer.sep_token_id, np.int32)], axis=1)
        arrays = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids),
                  "labels": np.full_like(ids, IGNORE_INDEX)}
        special = np.asarray(sorted(set(tokenizer.all_special_ids)), np.int32)
        return Examples(arrays, str(path), {"special_ids": special, "mask_id": tokenizer.mask_token_id,
                                            "vocab_size": len(tokenizer)})

    def collate(self, batch, rng, examples, training=False):
        info = examples.info
        special = np.isin(batch["input_ids"], info["special_ids"]) | (batch["attention_mask"] == 0)
        masked, labels = mask_tokens(batch["input_ids"], special, info["mask_id"], info["vocab_size"], rng,
                                     self.probability)
        return {**batch, "input_ids": masked, "labels": labels}

    def reduce_outputs(self, outputs, batch):
        # per masked token: 1 when the best guess is the original token (the logits are too large to keep)
        chosen = batch["labels"] != IGNORE_INDEX
        return [(outputs[0].argmax(-1) == batch["labels"])[chosen].astype(np.float32)]

    def metrics(self, outputs, examples):
        hits = outputs[0]
        return {"masked_accuracy": float(hits.mean()) if hits.size else 0.0}
