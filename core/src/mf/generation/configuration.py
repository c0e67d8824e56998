"""GenerationConfig: how generate() decodes; read from and written to generation_config.json."""
import copy
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import List, Optional, Union

from ..errors import MFError
from ..fileio import read_json, write_json

GENERATION_CONFIG_NAME = "generation_config.json"


class GenerationError(MFError, ValueError):
    """A generation setting or input that cannot work."""


@dataclass
class GenerationConfig:
    """Decoding settings, with Hugging Face's names and meanings."""

    max_length: int = 20                    # prompt + new tokens, unless max_new_tokens is set
    max_new_tokens: Optional[int] = None
    min_new_tokens: int = 0
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 50
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    num_beams: int = 1
    length_penalty: float = 1.0
    early_stopping: Union[bool, str] = False
    num_return_sequences: int = 1
    eos_token_id: Union[int, List[int], None] = None
    pad_token_id: Optional[int] = None
    bos_token_id: Optional[int] = None
    decoder_start_token_id: Optional[int] = None   # an encoder-decoder's first decoder token
    stop_strings: Union[str, List[str], None] = None
    seed: Optional[int] = None
    use_cache: bool = True

    def update(self, **kwargs) -> "GenerationConfig":
        """A copy with kwargs applied; unknown names are an error that lists the known ones."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise GenerationError(f"unknown generation arguments: {', '.join(unknown)}; "
                                  f"known: {', '.join(sorted(known))}")
        out = copy.deepcopy(self)
        for name, value in kwargs.items():
            setattr(out, name, value)
        return out

    def validate(self):
        """Raise GenerationError naming the bad setting and its allowed range."""
        if self.max_new_tokens is not None and (not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 1):
            raise GenerationError(f"max_new_tokens must be an integer >= 1, got {self.max_new_tokens!r}")
        if not isinstance(self.max_length, int) or self.max_length < 1:
            raise GenerationError(f"max_length must be an integer >= 1, got {self.max_length!r}")
        if not isinstance(self.top_k, int) or self.top_k < 0:
            raise GenerationError(f"top_k must be an integer >= 0 (0 disables it), got {self.top_k!r}")
        if not 0.0 < float(self.top_p) <= 1.0:
            raise GenerationError(f"top_p must be in (0, 1], got {self.top_p!r}")
        if not float(self.temperature) > 0.0:
            raise GenerationError(f"temperature must be > 0, got {self.temperature!r}; use do_sample=False for greedy")
        if not float(self.repetition_penalty) > 0.0:
            raise GenerationError(f"repetition_penalty must be > 0, got {self.repetition_penalty!r}")
        if not isinstance(self.num_beams, int) or self.num_beams < 1:
            raise GenerationError(f"num_beams must be an integer >= 1, got {self.num_beams!r}")
        if not isinstance(self.num_return_sequences, int) or self.num_return_sequences < 1:
            raise GenerationError(f"num_return_sequences must be an integer >= 1, got {self.num_return_sequences!r}")
        if self.num_beams > 1 and self.num_return_sequences > self.num_beams:
            raise GenerationError(f"num_return_sequences ({self.num_return_sequences}) cannot exceed "
                                  f"num_beams ({self.num_beams})")
        if self.num_beams > 1 and self.do_sample:
            raise GenerationError("beam sampling is not supported; use num_beams=1 with do_sample=True, "
                                  "or do_sample=False with num_beams > 1")
        if self.min_new_tokens < 0:
            raise GenerationError(f"min_new_tokens must be >= 0, got {self.min_new_tokens!r}")
        if self.early_stopping not in (True, False, "never"):
            raise GenerationError(f"early_stopping must be True, False or 'never', got {self.early_stopping!r}")

    @property
    def eos_token_ids(self) -> List[int]:
        if self.eos_token_id is None:
            return []
        return [self.eos_token_id] if isinstance(self.eos_token_id, int) else list(self.eos_token_id)

    @property
    def stop_string_list(self) -> List[str]:
        if not self.stop_strings:
            return []
        return [self.stop_strings] if isinstance(self.stop_strings, str) else list(self.stop_strings)

    def to_dict(self):
        return {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self)}

    def save_pretrained(self, save_directory):
        """Write generation_config.json."""
        write_json(Path(save_directory) / GENERATION_CONFIG_NAME, self.to_dict())

    @classmethod
    def from_dict(cls, data) -> "GenerationConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def from_pretrained(cls, directory) -> "GenerationConfig":
        """Read generation_config.json from a model directory."""
        return cls.from_dict(read_json(Path(directory) / GENERATION_CONFIG_NAME, GenerationError))

    @classmethod
    def from_model_config(cls, config) -> "GenerationConfig":
        """Defaults taken from a model config (its special token ids)."""
        return cls(eos_token_id=getattr(config, "eos_token_id", None),
                   pad_token_id=getattr(config, "pad_token_id", None),
                   bos_token_id=getattr(config, "bos_token_id", None),
                   decoder_start_token_id=getattr(config, "decoder_start_token_id", None))
