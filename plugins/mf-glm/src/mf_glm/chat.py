"""ChatGLM-6B's chat: the "[Round N]\\n问：...\\n答：" prompt over the history, generation, and its tidying of the
response (Chinese punctuation next to Chinese characters)."""
import re
import threading
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np

from mf.generation import TextIteratorStreamer

# ChatGLM-6B's defaults for chat (sampling)
CHAT_DEFAULTS = dict(max_length=2048, do_sample=True, top_p=0.7, temperature=0.95)
_PUNCTUATION = ((",", "，"), ("!", "！"), (":", "："), (";", "；"), (r"\?", "？"))

History = List[Tuple[str, str]]


def build_prompt(query: str, history: Optional[Sequence[Tuple[str, str]]] = None) -> str:
    """The first question alone; later ones after every earlier round, numbered from 0."""
    if not history:
        return query
    prompt = "".join(f"[Round {i}]\n问：{old_query}\n答：{response}\n" for i, (old_query, response) in enumerate(history))
    return prompt + f"[Round {len(history)}]\n问：{query}\n答："


def process_response(response: str) -> str:
    """As ChatGLM-6B: strip, and ASCII , ! : ; ? beside a Chinese character become their full-width forms."""
    response = response.strip().replace("[[训练时间]]", "2023年")
    for ascii_mark, chinese_mark in _PUNCTUATION:
        response = re.sub(r"([\u4e00-\u9fff])%s" % ascii_mark, r"\1%s" % chinese_mark, response)
        response = re.sub(r"%s([\u4e00-\u9fff])" % ascii_mark, r"%s\1" % chinese_mark, response)
    return response


def _prompt_ids(tokenizer, query, history):
    return np.asarray([tokenizer(build_prompt(query, history))["input_ids"]], np.int64)


def chat(model, tokenizer, query: str, history: Optional[History] = None, **generate_kwargs) -> Tuple[str, History]:
    """(response, history with this round added); generate_kwargs override ChatGLM's sampling defaults."""
    history = list(history or [])
    ids = _prompt_ids(tokenizer, query, history)
    output = model.generate(ids, **{**CHAT_DEFAULTS, **generate_kwargs})
    response = process_response(tokenizer.decode(output[0, ids.shape[1]:].tolist(), skip_special_tokens=True))
    return response, history + [(query, response)]


def stream_chat(model, tokenizer, query: str, history: Optional[History] = None,
                **generate_kwargs) -> Iterator[Tuple[str, History]]:
    """Yields (response so far, history with it) as tokens arrive; the last item is chat()'s answer."""
    history = list(history or [])
    ids = _prompt_ids(tokenizer, query, history)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    failure = []

    def run():
        try:
            model.generate(ids, streamer=streamer, **{**CHAT_DEFAULTS, **generate_kwargs})
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)
            streamer.end()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    text = ""
    for piece in streamer:
        text += piece
        response = process_response(text)
        yield response, history + [(query, response)]
    worker.join()
    if failure:
        raise failure[0]
