"""text2text_generation and translation: an encoder-decoder rewrites each input text.

    pipeline("translation", model="t5_small", src_lang="en", tgt_lang="de")("All human beings are born free.")
    -> [{'translation_text': '...'}]
    pipeline("text2text_generation", model=...)("summarize: ...") -> [{'generated_text': '...'}]

A `prefix` is put before every input (T5's task prefixes); translation builds T5's own
("translate English to German: ") from src_lang / tgt_lang when the model is a T5. Keyword arguments
other than the pipeline's own go to generate() (num_beams, max_new_tokens, do_sample, ...); without a
length, up to DEFAULT_NEW_TOKENS tokens are generated (decoding stops at </s>).
"""
import numpy as np

from ..generation import GenerationError
from .base import Pipeline

DEFAULT_NEW_TOKENS = 128


class Text2TextGenerationPipeline(Pipeline):
    task = "text2text_generation"
    output_key = "generated_text"

    def _prefix(self, prefix, src_lang, tgt_lang):
        return prefix or ""

    def run_batch(self, texts, prefix=None, src_lang=None, tgt_lang=None, max_source_length=None, **generate_kwargs):
        if not getattr(self.model, "is_encoder_decoder", False):
            raise GenerationError(f"{self.task} needs an encoder-decoder model (e.g. a T5); "
                                  f"{type(self.model).__name__} is not one. For a causal LM use text_generation")
        for text in texts:
            if not isinstance(text, str) or not text.strip():
                raise GenerationError(f"{self.task} takes non-empty text, got {text!r}")
        lead = self._prefix(prefix, src_lang, tgt_lang)
        tokenizer = self.tokenizer
        encoded = tokenizer([lead + text for text in texts], padding=True, truncation=True,
                            max_length=max_source_length or tokenizer.model_max_length)
        if "max_new_tokens" not in generate_kwargs and "max_length" not in generate_kwargs:
            generate_kwargs["max_new_tokens"] = DEFAULT_NEW_TOKENS
        if "do_sample" not in generate_kwargs and (generate_kwargs.get("top_k", 0) > 1 or
                                                    generate_kwargs.get("top_p", 1.0) < 1.0):
            generate_kwargs["do_sample"] = True  # as text_generation: sampling settings imply sampling
        output = self.model.generate(np.asarray(encoded["input_ids"]),
                                     attention_mask=np.asarray(encoded["attention_mask"]), **generate_kwargs)
        per_input = output.shape[0] // len(texts)
        texts_out = tokenizer.batch_decode(output, skip_special_tokens=True)
        results = []
        for i in range(len(texts)):
            mine = [{self.output_key: text.strip()} for text in texts_out[i * per_input:(i + 1) * per_input]]
            results.append(mine[0] if per_input == 1 else mine)
        return results


class TranslationPipeline(Text2TextGenerationPipeline):
    task = "translation"
    output_key = "translation_text"

    def _prefix(self, prefix, src_lang, tgt_lang):
        if prefix is not None:
            return prefix
        if getattr(self.model.config, "model_type", "") == "t5":
            from ..tasks.translation import default_prefix

            if (src_lang or tgt_lang) and not default_prefix(src_lang, tgt_lang):
                raise GenerationError(f"no T5 task prefix for src_lang={src_lang!r}, tgt_lang={tgt_lang!r}; pass "
                                      f"prefix='translate ... to ...: ' (or language codes such as 'en', 'de')")
            return default_prefix(src_lang, tgt_lang)
        return ""
