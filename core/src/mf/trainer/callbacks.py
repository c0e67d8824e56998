"""Trainer state, callbacks, and the reporting every run does (console, metrics.jsonl, loss curve)."""
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from ..fileio import atomic_path


@dataclass
class TrainerState:
    """Where training is. Saved in every checkpoint; callbacks may set should_stop."""
    global_step: int = 0
    max_steps: int = 0
    epoch: int = 0                   # current epoch index
    batch_in_epoch: int = 0          # micro-batches of the current epoch already consumed
    tokens_seen: int = 0
    should_stop: bool = False
    log_history: List[Dict] = field(default_factory=list)

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class Callback:
    """Override what you need; the trainer calls these with itself (and the state or metrics)."""

    def on_train_begin(self, trainer):
        pass

    def on_step_end(self, trainer, state: TrainerState):
        pass

    def on_evaluate(self, trainer, metrics: Dict):
        pass

    def on_save(self, trainer, checkpoint_dir: Path):
        pass

    def on_train_end(self, trainer):
        pass


class MetricsWriter:
    """Appends one JSON object per logged step or evaluation to output_dir/metrics.jsonl.

    A run that starts at start_step (0, or the step it resumed from) first drops the file's records of later
    steps, so after a resume every step appears once (the resumed run's record)."""

    def __init__(self, output_dir, start_step: int = 0):
        self.path = Path(output_dir) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_file():
            kept = []
            for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a crash
                if isinstance(record, dict) and isinstance(record.get("step"), int) and record["step"] <= start_step:
                    kept.append(line + "\n")
            with atomic_path(self.path) as tmp:
                tmp.write_text("".join(kept), encoding="utf-8")

    def write(self, record: Dict):
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


def plot_loss_curve(log_history: List[Dict], path) -> Optional[Path]:
    """Write a PNG of training (and evaluation) loss by step; None when there is nothing to plot."""
    train = [(r["step"], r["loss"]) for r in log_history if "loss" in r and math.isfinite(r["loss"])]
    evals = [(r["step"], r["eval_loss"]) for r in log_history if "eval_loss" in r]
    if not train:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(7, 4), dpi=100)
    axes.plot(*zip(*train), label="train loss")
    if evals:
        axes.plot(*zip(*evals), "o-", label="eval loss")
    axes.set_xlabel("step")
    axes.set_ylabel("loss (mean token NLL)")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)
    return Path(path)
