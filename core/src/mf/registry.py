"""The registry that plugins fill: model families, presets, tasks, PET methods, datasets.

Every entry remembers which distribution registered it, so that two
distributions claiming one name is an error naming both, and ``mf plugins``
can say who registered what.
"""
import difflib
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from .catalogue import first_party_distribution
from .errors import PluginConflictError, UnknownNameError

@dataclass(frozen=True)
class Source:
    """Who registered an entry: a distribution and the plugin module in it."""
    distribution: str
    plugin: str

    def __str__(self):
        return f"{self.distribution} ({self.plugin})"


@dataclass
class ModelFamily:
    """Everything core needs to know about one model architecture."""
    model_type: str
    config_class: type
    # role -> class, e.g. {"base": GPT2Model, "causal_lm": GPT2LMHeadModel}
    model_classes: Dict[str, type]
    # the role AutoModel returns (the tutorial's AutoModel gives the LM-head model)
    default_role: str
    tokenizer_class: Optional[type] = None
    processor_class: Optional[type] = None
    # object with hf_to_mf(state_dict, config) and mf_to_hf(state_dict, config)
    converter: Any = None
    # which Dense layers are column / row / vocab parallel (the parallel issue uses it)
    sharding_plan: Any = None
    # model_type values a Hugging Face config.json may carry for this family
    hf_model_types: Tuple[str, ...] = ()
    # LoRA and other PET methods wrap these layers unless told otherwise
    pet_target_modules: Tuple[str, ...] = ()
    # the family's own words for its model card (markdown): what it is, what was measured
    card: str = ""
    # registered metrics that score the responses it generates on prompt/response evaluation data
    # (default: BLEU and chrF; TrainingArguments.response_metrics overrides)
    response_metrics: Tuple[str, ...] = ()

    def model_class(self, role: Optional[str] = None) -> type:
        """The model class for a role (default: the family's default role)."""
        role = role or self.default_role
        if role not in self.model_classes:
            raise UnknownNameError(
                f"model family '{self.model_type}' has no '{role}' model; it has: "
                f"{', '.join(sorted(self.model_classes))}")
        return self.model_classes[role]


@dataclass
class Preset:
    """A named, ready-to-use configuration (`gpt2`, `llama_7b`, `gpt2_tiny`, ...)."""
    name: str
    model_type: str
    config: Dict[str, Any]
    description: str = ""
    # keyword arguments for the family's tokenizer class (vocabulary files, special tokens)
    tokenizer: Optional[Dict[str, Any]] = None
    # keyword arguments for the family's processor class
    processor: Optional[Dict[str, Any]] = None
    # PET configuration, e.g. {"pet_method": "lora", "rank": 8} for `llama_7b_lora`
    pet: Optional[Dict[str, Any]] = None
    # the task the preset is made for
    task: str = "text_generation"
    # use another preset's weights (a LoRA preset fine-tunes its base model's)
    weights_from: Optional[str] = None
    # the Hugging Face Hub repository (and revision) holding this preset's weights in safetensors
    hub_repo: Optional[str] = None
    hub_revision: Optional[str] = None
    # why there are no public weights, when hub_repo is None (shown to the user)
    weights_note: str = ""


@dataclass
class Task:
    """A task: its pipeline class, default preset, and evaluation metrics."""
    name: str
    pipeline_class: Optional[type] = None
    default_model: Optional[str] = None
    metrics: Tuple[str, ...] = ()
    # model role that the task needs (AutoModel role)
    model_role: str = "causal_lm"
    # how the Trainer reads, trains and scores the task (an mf.tasks.Objective); None: next-token
    # prediction on packed text, as text_generation
    objective: Any = None


@dataclass
class _Entry:
    value: Any
    source: Source


class _Table:
    """One kind of registered thing: name -> value, with its source."""

    def __init__(self, kind: str):
        self.kind = kind
        self.entries: Dict[str, _Entry] = {}

    def add(self, name: str, value: Any, source: Source):
        if name in self.entries:
            other = self.entries[name].source
            raise PluginConflictError(
                f"{self.kind} '{name}' is registered by both {other} and {source}; "
                f"uninstall one of these distributions", kind=self.kind, name=name, first=other, second=source)
        self.entries[name] = _Entry(value, source)

    def get(self, name: str):
        entry = self.entries.get(name)
        return entry.value if entry else None

    def names(self) -> List[str]:
        return sorted(self.entries)

    def items(self):
        return [(name, e.value) for name, e in sorted(self.entries.items())]

    def drop_source(self, source: Source):
        self.entries = {n: e for n, e in self.entries.items() if e.source != source}

    def by_source(self, source: Source) -> List[str]:
        return sorted(n for n, e in self.entries.items() if e.source == source)


class Registry:
    """What the installed plugins registered. Handed to every registration hook."""

    def __init__(self):
        self.models = _Table("model type")
        self.presets = _Table("preset")
        self.tasks = _Table("task")
        self.pet_methods = _Table("PET method")
        self.datasets = _Table("dataset format")
        self.metrics = _Table("metric")
        self.exports = _Table("public name")
        self._hf_types: Dict[str, str] = {}
        self.current_source = Source("unknown", "unknown")

    # ---- registration (called from plugins' hooks) -------------------------------
    def add_model_family(self, model_type: str, config_class: type, model_classes: Dict[str, type],
                         default_role: str = "causal_lm", **kwargs) -> ModelFamily:
        """Register a model architecture: its config class and one model class per role
        (mf.models.ROLES). Nothing becomes importable from `mf` unless exported with export()."""
        from .models.roles import role_protocol

        for role in [*model_classes, default_role]:
            role_protocol(role)
        if default_role not in model_classes:
            raise UnknownNameError(f"default_role '{default_role}' of model type '{model_type}' is not one of its "
                                   f"roles: {', '.join(model_classes)}")
        family = ModelFamily(model_type, config_class, dict(model_classes), default_role, **kwargs)
        self.models.add(model_type, family, self.current_source)
        for hf_type in family.hf_model_types:
            self._hf_types.setdefault(hf_type, model_type)
        return family

    def add_preset(self, name: str, model_type: str, config: Dict[str, Any], **kwargs) -> Preset:
        """Register a named configuration of a registered model type."""
        preset = Preset(name, model_type, dict(config), **kwargs)
        self.presets.add(name, preset, self.current_source)
        return preset

    def add_task(self, name: str, **kwargs) -> Task:
        """Register a task (pipeline, default model, metrics)."""
        task = Task(name, **kwargs)
        self.tasks.add(name, task, self.current_source)
        return task

    def add_metric(self, name: str, function: Callable):
        """Register a metric: function(predictions, references) -> a number or a dict of numbers."""
        self.metrics.add(name, function, self.current_source)

    def add_pet_method(self, name: str, factory: Callable):
        """Register a PET method: factory(model, **options) wraps a model in place."""
        self.pet_methods.add(name, factory, self.current_source)

    def add_dataset_format(self, name: str, handler: Any):
        """Register a dataset format handler (has detect(path) and load(path, ...))."""
        self.datasets.add(name, handler, self.current_source)

    def export(self, *objects: Any, name: Optional[str] = None):
        """Make each object importable as `mf.<its __name__>` (or `mf.<name>` for a single object)."""
        if name is not None and len(objects) != 1:
            raise ValueError("export(..., name=...) takes exactly one object")
        for obj in objects:
            self.exports.add(name or obj.__name__, obj, self.current_source)

    def drop_source(self, source: Source):
        """Forget everything one plugin registered (used when its hook raised)."""
        for table in self._tables():
            table.drop_source(source)
        self._hf_types = {k: v for k, v in self._hf_types.items() if self.models.get(v) is not None}

    def _tables(self):
        return [self.models, self.presets, self.tasks, self.pet_methods, self.datasets, self.exports]

    def registered_by(self, source: Source) -> Dict[str, List[str]]:
        """What one plugin registered, by kind."""
        return {t.kind: t.by_source(source) for t in self._tables() if t.by_source(source)}

    # ---- lookups -------------------------------------------------------------------
    def family(self, model_type: str) -> ModelFamily:
        """The family for a model_type (mf's own name or a Hugging Face alias)."""
        family = self.models.get(model_type) or self.models.get(self._hf_types.get(model_type, ""))
        if family is not None:
            return family
        dist = first_party_distribution(model_type, "model_types")
        if dist:
            raise UnknownNameError(
                f"model type '{model_type}' is provided by {dist}, which is not installed: pip install {dist}")
        raise UnknownNameError(
            f"unknown model type '{model_type}'. Installed model types: "
            f"{', '.join(self.models.names()) or 'none'}; install the plugin that provides it")

    def preset(self, name: str) -> Preset:
        """A preset by name; the error suggests close names or the distribution to install."""
        preset = self.presets.get(name)
        if preset is not None:
            return preset
        raise UnknownNameError(self.unknown_preset_message(name))

    def unknown_preset_message(self, name: str) -> str:
        dist = first_party_distribution(name, "presets")
        if dist and dist not in self.installed_distributions():
            return f"preset '{name}' is provided by {dist}, which is not installed: pip install {dist}"
        close = difflib.get_close_matches(name, self.presets.names(), n=5, cutoff=0.6)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        return (f"unknown preset '{name}'.{hint} Run `mf plugins` or AutoModel.show_support_list() "
                f"to see the installed presets; a directory path must exist and contain config.json.")

    def installed_distributions(self) -> List[str]:
        return sorted({e.source.distribution for t in self._tables() for e in t.entries.values()})

    def task(self, name: str) -> Task:
        task = self.tasks.get(name)
        if task is None:
            raise UnknownNameError(
                f"unknown task '{name}'. Available tasks: {', '.join(self.tasks.names()) or 'none'}")
        return task

    def class_named(self, name: str) -> Optional[type]:
        """A registered class by its __name__ (tokenizer and processor files name their class)."""
        for family in self.models.entries.values():
            family = family.value
            for cls in (family.config_class, family.tokenizer_class, family.processor_class,
                        *family.model_classes.values()):
                if cls is not None and cls.__name__ == name:
                    return cls
        value = self.exports.get(name)
        if value is None:  # core's own classes (ByteTokenizer, TokenizerJsonTokenizer, ...)
            import mf

            value = getattr(mf, name) if name in mf.__all__ else None
        return value if isinstance(value, type) else None

    def hf_model_type(self, model_type: str) -> Optional[str]:
        """The mf model_type for a Hugging Face model_type, if one is registered."""
        if self.models.get(model_type) is not None:
            return model_type
        return self._hf_types.get(model_type)
