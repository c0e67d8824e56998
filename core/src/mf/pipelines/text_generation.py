"""The text_generation task: prompts in, [{'text_generation_text': [text]}] out, as in the tutorial.

A chat conversation ([{"role": "user", "content": ...}, ...]) is rendered with the tokenizer's chat
template; its result holds the reply alone and the conversation with the reply appended:
[{'text_generation_text': [reply], 'messages': [..., {'role': 'assistant', 'content': reply}]}].
"""
import warnings

import numpy as np

from ..generation import GenerationError
from .base import Pipeline

# Keyword arguments the pipeline handles itself; the rest go to generate().
_PIPELINE_OPTIONS = ("truncation", "return_full_text")


def is_conversation(value) -> bool:
    """A chat conversation: a non-empty list of {'role', 'content'} dicts."""
    return isinstance(value, (list, tuple)) and bool(value) and all(
        isinstance(m, dict) and "role" in m and "content" in m for m in value)


class NoNewTokensWarning(UserWarning):
    """The model ended the text at once."""


class TextGenerationPipeline(Pipeline):
    task = "text_generation"

    def __call__(self, inputs, **kwargs):
        # one conversation is one input, not a batch of dicts
        return super().__call__([inputs] if is_conversation(inputs) else inputs, **kwargs)

    def run_batch(self, prompts, truncation=False, return_full_text=True, **generate_kwargs):
        chats = [list(p) if is_conversation(p) else None for p in prompts]
        prompts = [self._chat_prompt(chat) if chat else p for p, chat in zip(prompts, chats)]
        for prompt in prompts:
            if not isinstance(prompt, str):
                raise GenerationError(f"text_generation takes text or chat messages ([{{'role': 'user', "
                                      f"'content': ...}}]), got {type(prompt).__name__}: {prompt!r}")
            if not prompt:
                raise GenerationError("the prompt is empty; give some text to continue")
        # The tutorial passes top_k without do_sample and expects sampling; transformers would
        # silently ignore top_k in greedy mode. Sampling settings therefore imply do_sample.
        if "do_sample" not in generate_kwargs and (
                generate_kwargs.get("top_k", 0) > 1 or generate_kwargs.get("top_p", 1.0) < 1.0
                or generate_kwargs.get("temperature", 1.0) != 1.0):
            generate_kwargs["do_sample"] = True
        tokenizer = self.tokenizer
        encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
        if any(len(ids) == 0 for ids in encoded):
            raise GenerationError("a prompt tokenizes to nothing; give some text to continue")
        encoded = [self._fit_context(ids, truncation, generate_kwargs) for ids in encoded]
        width = max(len(ids) for ids in encoded)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id or 0
        input_ids = np.array([[pad] * (width - len(ids)) + ids for ids in encoded])
        attention_mask = np.array([[0] * (width - len(ids)) + [1] * len(ids) for ids in encoded])
        generate_kwargs.setdefault("pad_token_id", pad)
        if generate_kwargs.get("stop_strings"):
            generate_kwargs.setdefault("tokenizer", tokenizer)
        output = self.model.generate(input_ids, attention_mask=attention_mask, **generate_kwargs)
        per_prompt = output.shape[0] // len(prompts)
        eos = generate_kwargs.get("eos_token_id", self.model.generation_config.eos_token_id)
        eos_ids = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
        results = []
        for i, ids in enumerate(encoded):
            texts, full = [], return_full_text and chats[i] is None
            for row in output[i * per_prompt:(i + 1) * per_prompt]:
                generated = _until_eos(row[width:].tolist(), eos_ids)
                if not generated:
                    warnings.warn(NoNewTokensWarning(
                        "the model produced no new token: it ended the text at once (its first token was "
                        "end-of-sequence). A chat model answers chat messages: pass [{'role': 'user', 'content': "
                        "...}] (mf generate --chat, mf chat) so its chat template is applied"), stacklevel=3)
                text = tokenizer.decode(list(ids) + generated if full else generated, skip_special_tokens=True)
                texts.append(text)
            result = {"text_generation_text": texts}
            if chats[i] is not None:
                result["messages"] = chats[i] + [{"role": "assistant", "content": texts[0].strip()}]
            results.append(result)
        return results

    def _chat_prompt(self, messages):
        if not getattr(self.tokenizer, "chat_template", None):
            raise GenerationError(f"chat messages need a chat template, and this model's tokenizer "
                                  f"({type(self.tokenizer).__name__}) has none; pass a plain text prompt, or a "
                                  f"chat model whose tokenizer_config.json has a chat_template")
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def _fit_context(self, ids, truncation, generate_kwargs):
        limit = self.model.max_positions()
        if limit is None:
            return ids
        new_tokens = generate_kwargs.get("max_new_tokens")
        if new_tokens is None:
            max_length = generate_kwargs.get("max_length", self.model.generation_config.max_length)
            new_tokens = max(max_length - len(ids), 1)
        room = limit - new_tokens
        if len(ids) <= room:
            return ids
        if not truncation:
            raise GenerationError(
                f"the prompt has {len(ids)} tokens; with {new_tokens} new tokens it exceeds the model's context "
                f"of {limit}. Pass truncation=True to keep the last {room} prompt tokens, or shorten the prompt")
        if room < 1:
            raise GenerationError(f"{new_tokens} new tokens leave no room for a prompt in a context of {limit}")
        if "max_new_tokens" not in generate_kwargs:
            generate_kwargs["max_new_tokens"] = new_tokens
            generate_kwargs.pop("max_length", None)
        return ids[-room:]


def _until_eos(tokens, eos_ids):
    """The generated tokens before the first end-of-sequence (padding after it is dropped too)."""
    for index, token in enumerate(tokens):
        if token in eos_ids:
            return tokens[:index]
    return tokens
