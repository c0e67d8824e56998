"""The Trainer, its arguments, callbacks and checkpoints."""
from .arguments import TrainingArguments, TrainingError
from .callbacks import Callback, TrainerState
from .trainer import Trainer

__all__ = ["Callback", "Trainer", "TrainerState", "TrainingArguments", "TrainingError"]
