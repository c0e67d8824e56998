"""`mf run`: the tutorial's task.py as a command (train / finetune / eval / predict).

    mf run --task text_generation --model_type gpt2 --run_mode train --train_dataset ./train
    mf run --task text_classification --model_type DIR --run_mode finetune --train_dataset train.jsonl
    mf run --config run.yaml --max_steps 100        # flags override the file

Every TrainingArguments field is also a flag (--learning_rate, --max_steps, ...).
"""
import argparse
import dataclasses
import json
import typing
from pathlib import Path

from ..errors import MFError

TASK_OPTIONS = {
    # name: (type, default, help)
    "task": (str, "text_generation", "task name"),
    "model_type": (str, None, "preset name or model directory (the tutorial's --model_type)"),
    "tokenizer": (str, None, "tokenizer preset or directory (default: the model's)"),
    "run_mode": (str, "train", "train, finetune, eval or predict"),
    "train_dataset": (str, None, "text_generation: MindRecord directory, .jsonl or .txt; other tasks: their data "
                                 "file (JSONL, CoNLL, CLUENER or SQuAD JSON)"),
    "eval_dataset": (str, None, "as train_dataset"),
    "predict_data": (str, None, "text for predict mode (to continue, classify or tag); question answering: "
                                "'{\"question\": ..., \"context\": ...}'"),
    "pet_method": (str, "", "parameter-efficient tuning method, e.g. lora"),
    "load_checkpoint": (str, None, "weights to finetune, evaluate or predict with (a model directory)"),
    "use_parallel": ("bool", False, "run distributed (start the processes with `mf launch`)"),
    "data_parallel": (int, 1, "data parallel size"),
    "model_parallel": (int, 1, "model (tensor) parallel size"),
    "pipeline_parallel": (int, 1, "pipeline stages"),
    "micro_size": (int, 1, "micro-batches per step (pipeline)"),
    "optimizer_parallel": ("bool", False, "shard optimizer state across data-parallel ranks"),
    "recompute": ("bool", False, "recompute transformer blocks in the backward pass"),
    "device_target": (str, None, "device (default: the one that exists)"),
    "mode": (int, 0, "0: graph mode, 1: PyNative"),
}
RUN_MODES = ("train", "finetune", "eval", "predict")


def _bool(text):
    if isinstance(text, bool):
        return text
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _flag_type(hint):
    origin = typing.get_origin(hint)
    if origin is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if bool in args and str in args:  # resume_from_checkpoint: true, false or a path
            return lambda text: _bool(text) if str(text).lower() in ("true", "false", "1", "0") else text
        hint = args[0]
    if typing.get_origin(hint) is list:  # --random_resized_crop_scale 0.5,1
        item = typing.get_args(hint)[0]
        return lambda text: [item(part) for part in str(text).split(",") if part.strip()]
    return {bool: _bool, int: int, float: float, str: str}.get(hint, str)


def register(cli):
    from ..trainer import TrainingArguments

    parser = cli.add_command("run", "train, finetune, evaluate or predict a task (the tutorial's task.py)", run)
    parser.add_argument("--config", default=None, help="YAML or JSON file of these options; flags override it")
    for name, (kind, _, help_text) in TASK_OPTIONS.items():
        parser.add_argument(f"--{name}", type=_bool if kind == "bool" else kind, default=argparse.SUPPRESS,
                            help=help_text)
    hints = typing.get_type_hints(TrainingArguments)
    for field in dataclasses.fields(TrainingArguments):
        parser.add_argument(f"--{field.name}", type=_flag_type(hints[field.name]), default=argparse.SUPPRESS,
                            help=f"TrainingArguments.{field.name} (default {field.default!r})")


def read_config(path) -> dict:
    """A run-config file: YAML (.yaml/.yml) or JSON, a flat mapping of option names."""
    path = Path(path)
    if not path.is_file():
        raise MFError(f"config file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise MFError(f"{path} is not valid YAML: {exc}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MFError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict):
        raise MFError(f"{path} must hold a mapping of option names to values")
    return data


def resolve_options(args) -> dict:
    """Defaults, then the config file, then the flags given on the command line."""
    from ..trainer import TrainingArguments

    options = {name: default for name, (_, default, _) in TASK_OPTIONS.items()}
    if getattr(args, "config", None):
        from_file = read_config(args.config)
        known = set(TASK_OPTIONS) | set(TrainingArguments.field_names())
        unknown = sorted(set(from_file) - known)
        if unknown:
            raise MFError(f"{args.config} has unknown options: {', '.join(unknown)}")
        options.update(from_file)
    options.update({k: v for k, v in vars(args).items() if k not in ("config", "run", "command")})
    if options["run_mode"] not in RUN_MODES:
        raise MFError(f"run_mode '{options['run_mode']}' is unknown; use one of {', '.join(RUN_MODES)}")
    return options


def run(args) -> int:
    from ..parallel import ContextConfig, ParallelContextConfig, init_context
    from ..trainer import Trainer, TrainingArguments

    options = resolve_options(args)
    init_context(use_parallel=options["use_parallel"],
                 context_config=ContextConfig(mode=options["mode"], device_target=options["device_target"]),
                 parallel_config=ParallelContextConfig(enable_parallel_optimizer=options["optimizer_parallel"]))
    training = TrainingArguments(**{k: v for k, v in options.items() if k in TrainingArguments.field_names()})
    model = options["load_checkpoint"] or options["model_type"]
    trainer = Trainer(task=options["task"], model=model, args=training, tokenizer=options["tokenizer"],
                      train_dataset=options["train_dataset"], eval_dataset=options["eval_dataset"],
                      pet_method=options["pet_method"])
    trainer.set_parallel_config(data_parallel=options["data_parallel"], model_parallel=options["model_parallel"],
                                pipeline_stage=options["pipeline_parallel"], micro_batch_num=options["micro_size"],
                                optimizer_shard=options["optimizer_parallel"])
    trainer.set_recompute_config(recompute=options["recompute"])
    mode = options["run_mode"]
    if mode == "train":
        trainer.train()
    elif mode == "finetune":
        trainer.finetune()
    elif mode == "eval":
        metrics = trainer.evaluate()
        print(json.dumps(metrics))
    else:
        if options["use_parallel"]:
            raise MFError("predict runs in one process; drop --use_parallel")
        if options["predict_data"] is None:
            raise MFError("predict needs --predict_data 'some text'")
        data = options["predict_data"]
        if data.lstrip().startswith("{"):  # question answering: '{"question": ..., "context": ...}'
            try:
                data = json.loads(data)
            except json.JSONDecodeError as exc:
                raise MFError(f"--predict_data looks like JSON but is not valid: {exc.msg}") from None
        print(trainer.predict(input_data=data))
    return 0
