"""Streamers receive tokens as generate() produces them (batch size 1)."""
import queue
import threading
from typing import Optional


class TextStreamer:
    """Prints text to stdout as soon as whole words are available."""

    def __init__(self, tokenizer, skip_prompt: bool = False, **decode_kwargs):
        self.tokenizer = tokenizer
        self.skip_prompt = skip_prompt
        self.decode_kwargs = decode_kwargs
        self.token_cache = []
        self.printed = 0
        self.next_is_prompt = True

    def put(self, token_ids):
        """Receive the prompt (first call) or one new token per call."""
        ids = [int(t) for t in _flatten(token_ids)]
        if self.skip_prompt and self.next_is_prompt:
            self.next_is_prompt = False
            return
        self.next_is_prompt = False
        self.token_cache.extend(ids)
        text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)
        if text.endswith("\n"):
            ready = text[self.printed:]
            self.token_cache, self.printed = [], 0
        elif text.endswith("\ufffd"):
            ready = ""  # an incomplete multi-byte character: wait for the rest
        else:
            cut = text.rfind(" ") + 1
            ready = text[self.printed:cut] if cut > self.printed else ""
            self.printed += len(ready)
        if ready:
            self.on_text(ready, stream_end=False)

    def end(self):
        """Flush what is left."""
        text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs) if self.token_cache else ""
        self.token_cache, rest, self.printed = [], text[self.printed:], 0
        self.next_is_prompt = True
        self.on_text(rest, stream_end=True)

    def on_text(self, text: str, stream_end: bool = False):
        print(text, flush=True, end="" if not stream_end else None)


class TextIteratorStreamer(TextStreamer):
    """Iterate over the text pieces from another thread:

        streamer = TextIteratorStreamer(tok)
        Thread(target=model.generate, kwargs=dict(input_ids=ids, streamer=streamer)).start()
        for piece in streamer: ...
    """

    def __init__(self, tokenizer, skip_prompt: bool = False, timeout: Optional[float] = None, **decode_kwargs):
        super().__init__(tokenizer, skip_prompt, **decode_kwargs)
        self.queue = queue.Queue()
        self.stop_signal = object()
        self.timeout = timeout

    def on_text(self, text: str, stream_end: bool = False):
        if text:
            self.queue.put(text, timeout=self.timeout)
        if stream_end:
            self.queue.put(self.stop_signal, timeout=self.timeout)

    def __iter__(self):
        return self

    def __next__(self):
        value = self.queue.get(timeout=self.timeout)
        if value is self.stop_signal:
            raise StopIteration
        return value


def _flatten(token_ids):
    if hasattr(token_ids, "asnumpy"):
        token_ids = token_ids.asnumpy()
    if hasattr(token_ids, "reshape"):
        return token_ids.reshape(-1).tolist()
    if isinstance(token_ids, (list, tuple)):
        out = []
        for item in token_ids:
            out.extend(_flatten(item) if isinstance(item, (list, tuple)) or hasattr(item, "reshape") else [item])
        return out
    return [token_ids]
