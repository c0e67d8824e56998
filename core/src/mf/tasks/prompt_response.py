"""Scoring a causal LM's responses to the prompts of prompt/response data (see mf.data.prompt_response):
generate every response, greedily (or by beam search), and score it against the data's with registered
metrics (sacreBLEU's BLEU and chrF by default; GLM's BLEU-4 / ROUGE as ChatGLM evaluates)."""
from typing import Dict, List, Sequence, Tuple

import numpy as np

from ..data.blocks import DatasetError
from ..data.prompt_response import prompt_ids
from ..errors import UnknownNameError


def generate_responses(model, tokenizer, prompts: Sequence[str], batch_size: int, max_new_tokens: int,
                       num_beams: int = 1) -> List[str]:
    """The model's response (decoded, special tokens dropped, stripped) to each prompt."""
    limit = model.max_positions() - max_new_tokens if model.max_positions() else None
    if limit is not None and limit < 2:
        raise DatasetError(f"generating {max_new_tokens} tokens leaves no room for a prompt in the model's "
                           f"{model.max_positions()} positions; lower generation_max_length")
    encoded = [prompt_ids(tokenizer, prompt, limit) for prompt in prompts]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    responses = []
    for start in range(0, len(encoded), batch_size):
        rows = encoded[start:start + batch_size]
        real = len(rows)
        rows = rows + [rows[-1]] * (batch_size - real)  # one batch shape for every call: one compiled graph
        width = max(len(r) for r in rows)
        ids = np.full((len(rows), width), pad, np.int64)
        mask = np.zeros((len(rows), width), np.int64)
        for i, row in enumerate(rows):  # left padding: the prompts end where generation starts
            ids[i, width - len(row):] = row
            mask[i, width - len(row):] = 1
        output = model.generate(ids, attention_mask=mask, max_new_tokens=max_new_tokens, num_beams=num_beams,
                                do_sample=False)
        responses += [tokenizer.decode(seq[width:].tolist(), skip_special_tokens=True).strip()
                      for seq in output[:real]]
    return responses


def score_responses(model, tokenizer, pairs: Sequence[Tuple[str, str]], metric_names: Sequence[str],
                    batch_size: int, max_new_tokens: int, num_beams: int = 1) -> Dict[str, float]:
    """Every metric in metric_names (registered metrics: function(predictions, references)) of the generated
    responses, and their mean length in tokens (gen_len)."""
    from ..plugins import get_registry

    registry = get_registry()
    functions = []
    for name in metric_names:
        function = registry.metrics.get(name)
        if function is None:
            raise UnknownNameError(f"response metric '{name}' is not registered; known: "
                                   f"{', '.join(registry.metrics.names())} (response_metrics in TrainingArguments)")
        functions.append((name, function))
    predictions = generate_responses(model, tokenizer, [p for p, _ in pairs], batch_size, max_new_tokens, num_beams)
    references = [r for _, r in pairs]
    scores = {}
    for name, function in functions:
        value = function(predictions, references)
        scores.update(value if isinstance(value, dict) else {name: float(value)})
    scores["gen_len"] = float(np.mean([len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in predictions]))
    return scores
