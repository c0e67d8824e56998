"""The question_answering task: {"answer", "score", "start", "end"} with the answer a span of the context.

Inputs: {"question": ..., "context": ...} (or a list of them), or question=..., context=... .
Contexts longer than max_length are read in windows overlapping by `stride` tokens
(mf.tasks.question_answering), and the best span over all windows wins.
"""
import numpy as np
from mindspore import Tensor

from ..generation import GenerationError
from ..tasks.question_answering import best_spans, make_features
from .base import Pipeline


class QuestionAnsweringPipeline(Pipeline):
    task = "question_answering"
    unwrap_single = True

    def __call__(self, inputs=None, question=None, context=None, **kwargs):
        if inputs is None:
            if question is None or context is None:
                raise GenerationError("question_answering needs question= and context= (or {'question', 'context'})")
            if isinstance(question, (list, tuple)):
                inputs = [{"question": q, "context": c} for q, c in zip(question, context)]
            else:
                inputs = {"question": question, "context": context}
        return super().__call__(inputs, **kwargs)

    def run_batch(self, items, top_k=1, max_length=384, stride=128, max_answer_length=30):
        limit = min(max_length, getattr(self.model.config, "seq_length", max_length))
        self.model.set_train(False)
        results = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("question"), str) or \
                    not isinstance(item.get("context"), str):
                raise GenerationError(f"question_answering takes {{'question': str, 'context': str}}, got {item!r}")
            features = make_features(self.tokenizer, item["question"], item["context"], limit,
                                     min(stride, limit // 4))
            arrays = [np.asarray([getattr(f, name) for f in features], np.int32)
                      for name in ("input_ids", "attention_mask", "token_type_ids")]
            start_logits, end_logits = [], []
            for begin in range(0, len(features), self.batch_size):
                outputs = self.model(*(Tensor(a[begin:begin + self.batch_size]) for a in arrays))
                start_logits.append(outputs[0].asnumpy())
                end_logits.append(outputs[1].asnumpy())
            spans = best_spans(np.concatenate(start_logits), np.concatenate(end_logits), features, top_k,
                               max_answer_length)
            answers = [{"score": score, "start": start, "end": end, "answer": item["context"][start:end]}
                       for score, start, end in spans]
            if not answers:
                answers = [{"score": 0.0, "start": 0, "end": 0, "answer": ""}]
            results.append(answers[0] if top_k == 1 else answers)
        return results
