"""TrainingArguments: the tutorial's fields plus what users of MindFormers and transformers expect."""
import dataclasses
from dataclasses import dataclass
from typing import List, Optional, Union

from ..errors import MFError


class TrainingError(MFError, ValueError):
    """A training setting or situation that cannot work."""


LR_SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup")
OPTIMIZERS = ("adamw", "adam", "sgd")
COMPUTE_DTYPES = ("float32",)


@dataclass
class TrainingArguments:
    """How to train. `batch_size` is the tutorial's name for per_device_train_batch_size."""

    output_dir: str = "./output"
    num_train_epochs: float = 1.0
    max_steps: int = -1                       # > 0 overrides num_train_epochs
    batch_size: Optional[int] = None
    per_device_train_batch_size: int = 8
    per_device_eval_batch_size: Optional[int] = None
    gradient_accumulation_steps: int = 1
    learning_rate: float = 5e-5
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    max_grad_norm: float = 1.0                # 0 disables clipping
    lr_scheduler_type: str = "linear"
    warmup_steps: int = 0
    warmup_ratio: float = 0.0
    optim: str = "adamw"
    seed: int = 42
    data_seed: Optional[int] = None           # shuffling; defaults to seed
    shuffle: bool = True
    group_by_length: bool = False             # encoder tasks: batch examples of similar length, trimmed to a
                                              # few static widths (less padding, one compiled graph each)
    logging_steps: int = 10
    save_steps: int = 500                     # 0: only the final checkpoint
    save_total_limit: Optional[int] = None
    do_eval: bool = False
    eval_steps: Optional[int] = None          # defaults to logging_steps when evaluating during training
    resume_from_checkpoint: Union[bool, str, None] = None
    sink_mode: bool = False                   # keep sink_size steps on the device between host syncs
    sink_size: int = 1
    compute_dtype: str = "float32"
    on_bad_line: str = "fail"                 # JSONL lines that are not {"text": ...}: fail or skip
    seq_length: Optional[int] = None          # tokens per sample when packing raw text; default: the model's context
    plot_loss: bool = True
    # sequence-to-sequence tasks (translation), as transformers' run_translation and Seq2SeqTrainingArguments
    source_lang: Optional[str] = None         # {"translation": {lang: text}} records: which is the source
    target_lang: Optional[str] = None
    source_prefix: Optional[str] = None       # put before every source; T5's own wording when None
    max_target_length: Optional[int] = None   # target tokens per row; default: seq_length
    predict_with_generate: bool = True        # evaluation generates and scores BLEU / chrF
    generation_max_length: Optional[int] = None  # new tokens when evaluating; default: max_target_length
    generation_num_beams: int = 1
    # prompt/response JSONL (instruction tuning, ADGEN): the two fields (default: a known pair such as prompt /
    # response, content / summary, instruction / output); max_target_length caps the response's tokens; evaluation
    # generates every response and scores it with response_metrics (default: the model family's, else bleu, chrf)
    prompt_column: Optional[str] = None
    response_column: Optional[str] = None
    response_metrics: Optional[List[str]] = None
    # image classification: training-time augmentation of each image (random resized crop, horizontal flip)
    # [min, max] share of the area kept; default [0.08, 1.0]; [1, 1]: no crop
    random_resized_crop_scale: Optional[List[float]] = None
    random_flip: bool = True

    def __post_init__(self):
        if self.batch_size is not None:
            self.per_device_train_batch_size = self.batch_size
        self.batch_size = self.per_device_train_batch_size
        if self.per_device_eval_batch_size is None:
            self.per_device_eval_batch_size = self.per_device_train_batch_size
        if self.data_seed is None:
            self.data_seed = self.seed
        self.validate()

    def validate(self):
        """Raise TrainingError naming the bad field and what it accepts."""
        positive = ["per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps",
                    "logging_steps", "sink_size"]
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise TrainingError(f"{name} must be an integer >= 1, got {value!r}")
        if self.max_steps <= 0 and self.num_train_epochs <= 0:
            raise TrainingError(f"give num_train_epochs > 0 or max_steps > 0 "
                                f"(got num_train_epochs={self.num_train_epochs}, max_steps={self.max_steps})")
        if self.learning_rate < 0:
            raise TrainingError(f"learning_rate must be >= 0, got {self.learning_rate}")
        if self.lr_scheduler_type not in LR_SCHEDULERS:
            raise TrainingError(f"lr_scheduler_type '{self.lr_scheduler_type}' is unknown; use one of {', '.join(LR_SCHEDULERS)}")
        if self.optim not in OPTIMIZERS:
            raise TrainingError(f"optim '{self.optim}' is unknown; use one of {', '.join(OPTIMIZERS)}")
        if self.compute_dtype == "bfloat16":
            raise TrainingError("compute_dtype 'bfloat16' is not available: MindSpore's CPU backend has no bf16 "
                                "matmul. Use float32 (or float16, which runs about 4x slower on CPU)")
        if self.compute_dtype == "float16":
            raise TrainingError("compute_dtype 'float16' is not supported: on MindSpore's CPU backend float16 runs "
                                "about 4x slower than float32 and mf's fused CPU kernels are float32. Use float32")
        if self.compute_dtype not in COMPUTE_DTYPES:
            raise TrainingError(f"compute_dtype '{self.compute_dtype}' is unknown; use one of {', '.join(COMPUTE_DTYPES)}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise TrainingError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.warmup_steps < 0 or self.save_steps < 0:
            raise TrainingError("warmup_steps and save_steps must be >= 0")
        if self.save_total_limit is not None and self.save_total_limit < 1:
            raise TrainingError(f"save_total_limit must be >= 1 (or None for no limit), got {self.save_total_limit}")
        if self.on_bad_line not in ("fail", "skip"):
            raise TrainingError(f"on_bad_line must be 'fail' or 'skip', got {self.on_bad_line!r}")
        if (self.prompt_column is None) != (self.response_column is None):
            raise TrainingError("prompt_column and response_column go together: set both (or neither, to use a "
                                "known pair such as prompt / response)")
        for name in ("max_target_length", "generation_max_length"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise TrainingError(f"{name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.generation_num_beams, int) or self.generation_num_beams < 1:
            raise TrainingError(f"generation_num_beams must be an integer >= 1, got {self.generation_num_beams!r}")
        scale = self.random_resized_crop_scale
        if scale is not None and (len(scale) != 2 or not 0 < float(scale[0]) <= float(scale[1]) <= 1):
            raise TrainingError(f"random_resized_crop_scale must be [min, max] with 0 < min <= max <= 1, got {scale!r}")
        if self.max_grad_norm < 0:
            raise TrainingError(f"max_grad_norm must be >= 0 (0 disables clipping), got {self.max_grad_norm}")

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def field_names(cls):
        return [f.name for f in dataclasses.fields(cls)]
