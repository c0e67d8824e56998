"""Trainer: train, finetune, evaluate and predict, as in the tutorial."""
import math
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import mindspore as ms
from mindspore import Tensor

from .. import quantization
from ..errors import MFError
from ..modeling import PreTrainedModel
from ..nn.dropout import key_dropouts, set_dropout_key
from ..nn.losses import IGNORE_INDEX
from ..parallel import ParallelConfig, RecomputeConfig
from ..parallel.distributed import Topology
from ..plugins import get_plugin_manager, get_registry
from . import checkpoint as ckpt
from .arguments import TrainingArguments, TrainingError
from .lock import hold_output_dir
from .callbacks import Callback, MetricsWriter, TrainerState, plot_loss_curve
from .feed import BlockFeed, make_feed, model_inputs
from .optim import (build_optimizer, learning_rate_at, load_optimizer_state, optimizer_state,
                    set_learning_rate)
from .step import EvalStep, NextTokenLoss, TrainStep
from ..fileio import user_path
from ..compile_cache import graph_mode

# encoder tasks pad every example to this many tokens unless TrainingArguments.seq_length says otherwise
ENCODER_SEQ_LENGTH = 128


class Trainer:
    """Train, finetune, evaluate and predict a task's model.

    model: a preset name (train() starts from random weights, finetune() needs the preset's
    weights), a model directory, or a model instance. Datasets: for text_generation a path (MindRecord
    directory, .jsonl or .txt), a mindspore.dataset object, or TokenBlocks; for the encoder tasks
    (text_classification, token_classification, question_answering, fill_mask) a file in the task's
    format (mf.tasks) or its Examples.
    """

    def __init__(self, task: str = "text_generation", model=None, args: Optional[TrainingArguments] = None,
                 train_dataset=None, eval_dataset=None, tokenizer=None, pet_method: str = "",
                 callbacks: Optional[List[Callback]] = None, compute_metrics=None, image_processor=None,
                 **pet_options):
        self.args = args if args is not None else TrainingArguments()
        if not isinstance(self.args, TrainingArguments):
            raise TypeError(f"args must be TrainingArguments, got {type(self.args).__name__}")
        self.task = get_registry().task(task)
        self.model_source = model if model is not None else self.task.default_model
        self.model: Optional[PreTrainedModel] = model if isinstance(model, PreTrainedModel) else None
        self._tokenizer = tokenizer if tokenizer is not None else image_processor
        self.objective = self.task.objective.with_args(self.args) if self.task.objective is not None else None
        self.train_dataset = _check_dataset(train_dataset, "train_dataset", self.objective)
        self.eval_dataset = _check_dataset(eval_dataset, "eval_dataset", self.objective)
        self._examples = {}
        preset_pet = _preset_pet(self.model_source)
        self.pet_method = pet_method or preset_pet.pop("pet_method", "")
        self.pet_options = {**preset_pet, **pet_options} if self.pet_method else pet_options
        if self.pet_method and get_registry().pet_methods.get(self.pet_method) is None:
            raise TrainingError(f"unknown pet_method '{self.pet_method}'; installed: "
                                f"{', '.join(get_registry().pet_methods.names()) or 'none'}")
        self.callbacks = list(callbacks or [])
        self.compute_metrics = compute_metrics
        self.parallel_config = ParallelConfig()
        self.recompute_config = RecomputeConfig()
        self.state = TrainerState()
        self.topology = Topology()
        self._pipeline = None
        self._vocab_size = None  # set by training: token ids and labels are checked against it
        self._pet_applied = False

    # ---- configuration (the tutorial's API) ----------------------------------------------
    def set_parallel_config(self, data_parallel: int = 1, model_parallel: int = 1, pipeline_stage: int = 1,
                            micro_batch_num: int = 1, optimizer_shard: bool = False, **unused):
        """Data x model x pipeline parallel sizes, micro-batches and optimizer sharding."""
        for name, value in dict(data_parallel=data_parallel, model_parallel=model_parallel,
                                pipeline_stage=pipeline_stage, micro_batch_num=micro_batch_num).items():
            if not isinstance(value, int) or value < 1:
                raise TrainingError(f"{name} must be an integer >= 1, got {value!r}")
        self.parallel_config = ParallelConfig(data_parallel, model_parallel, pipeline_stage, micro_batch_num,
                                              bool(optimizer_shard))

    def set_recompute_config(self, recompute: bool = False, parallel_optimizer_comm_recompute: bool = False,
                             mp_comm_recompute: bool = True, recompute_slice_activation: bool = False,
                             select_recompute=None, **unused):
        """Recompute transformer blocks' activations in the backward pass (less memory, more compute)."""
        self.recompute_config = RecomputeConfig(bool(recompute), list(select_recompute or []),
                                                parallel_optimizer_comm_recompute, mp_comm_recompute,
                                                recompute_slice_activation)

    # ---- models and tokenizers ---------------------------------------------------------
    @property
    def tokenizer(self):
        """What turns the data into arrays: the tokenizer, the image processor for an image task, or the processor
        of both for an image-text task."""
        from ..auto import AutoImageProcessor, AutoProcessor, AutoTokenizer

        reads = self.objective.reads if self.objective is not None else "text"
        loader = {"images": AutoImageProcessor, "images_and_text": AutoProcessor}.get(reads, AutoTokenizer)
        if isinstance(self._tokenizer, str):
            self._tokenizer = loader.from_pretrained(self._tokenizer)
        if self._tokenizer is None:
            source = self.model_source if isinstance(self.model_source, str) else \
                getattr(getattr(self.model, "config", None), "name_or_path", "")
            if source:
                try:
                    self._tokenizer = loader.from_pretrained(source)
                except (MFError, OSError):
                    # token data needs no tokenizer; raw text will say it needs one
                    return None
        return self._tokenizer

    image_processor = tokenizer

    def _get_model(self, require_weights: bool, weights_from=None, config_updates=None) -> PreTrainedModel:
        config_updates = config_updates or {}
        if self.model is None:
            from ..auto import AutoConfig, AutoModel
            from ..resolve import locate

            source = weights_from or self.model_source
            if source is None:
                raise TrainingError("no model: pass model= (a preset name, a directory or a model instance)")
            location = locate(source)
            model_class = self._task_model_class(source)
            if location.directory is not None or require_weights:
                self.model = (model_class or AutoModel).from_pretrained(source, **config_updates)
            else:
                ms.set_seed(self.args.seed)
                config = AutoConfig.from_pretrained(source, **config_updates)
                self.model = model_class(config) if model_class else AutoModel.from_config(config)
        elif config_updates.get("num_labels") not in (None, getattr(self.model.config, "num_labels", None)):
            raise TrainingError(f"the model has {self.model.config.num_labels} labels but the data has "
                                f"{config_updates['num_labels']} ({', '.join(config_updates['id2label'].values())}); "
                                f"pass a model built for these labels, or a preset/directory name so the Trainer "
                                f"builds one")
        elif weights_from is not None:
            from ..weights import load_state_dict

            state, fmt = load_state_dict(weights_from)
            self.model.load_weights(state, fmt, where=str(weights_from))
        return self.model

    def _task_model_class(self, source):
        """The family's class for an encoder task's role (None: AutoModel decides, as for text_generation)."""
        if self.objective is None:
            return None
        from ..auto import _family_of

        family, _ = _family_of(source)
        if self.task.model_role not in family.model_classes:
            raise TrainingError(f"model type '{family.model_type}' has no {self.task.model_role} model, which task "
                                f"'{self.task.name}' trains; its roles: {', '.join(family.model_classes)}")
        return family.model_classes[self.task.model_role]

    def _encoder_seq_length(self, config) -> int:
        limit = getattr(config, "seq_length", None) or getattr(config, "max_position_embeddings", None)
        length = self.args.seq_length or min(ENCODER_SEQ_LENGTH, limit or ENCODER_SEQ_LENGTH)
        if limit is not None and length > limit:
            raise TrainingError(f"seq_length={length} is longer than the model's {limit} positions")
        return length

    def _read_examples(self, dataset, config):
        """The objective's Examples of a dataset (read once per Trainer)."""
        from ..tasks import Examples

        if isinstance(dataset, Examples):
            return dataset
        key = (str(dataset), id(config))
        if key not in self._examples:
            tokenizer = self.tokenizer
            if tokenizer is None:
                needs = {"text": "reads text: pass tokenizer=", "images": "reads images: pass image_processor=",
                         "images_and_text": "reads images and captions: pass the model's processor as tokenizer="}
                raise TrainingError(f"task '{self.task.name}' {needs[self.objective.reads]} to the Trainer")
            self._examples[key] = self.objective.read(dataset, tokenizer, self._encoder_seq_length(config), config,
                                                      self.args.on_bad_line)
        self._examples[key].group_by_length = self.args.group_by_length
        return self._examples[key]

    def _apply_pet(self, model):
        if self.pet_method and not self._pet_applied:
            from ..pet import apply_pet

            apply_pet(model, self.pet_method, **self.pet_options)
            self._pet_applied = True

    def _apply_recompute(self, model):
        config = self.recompute_config
        if not config.recompute:
            return
        blocks = model.transformer_blocks()
        chosen = [b for name, b in blocks if not config.select_recompute or name in config.select_recompute]
        if config.select_recompute and not chosen:
            raise TrainingError(f"select_recompute {config.select_recompute} names no block; blocks are "
                                f"{', '.join(n for n, _ in blocks)}")
        for block in chosen:
            block.recompute()

    def _check_single_process(self):
        if self.parallel_config.world_size > 1 or self.parallel_config.optimizer_shard:
            raise TrainingError(
                f"set_parallel_config asks for {self.parallel_config.world_size} devices "
                f"(data {self.parallel_config.data_parallel} x model {self.parallel_config.model_parallel} x "
                f"pipeline {self.parallel_config.pipeline_stage}) but this is a single process; start the "
                f"processes with `mf launch --nproc {self.parallel_config.world_size} -- ...` and "
                f"init_context(use_parallel=True)")

    # ---- train / finetune --------------------------------------------------------------
    def train(self, resume_from_checkpoint=None, **unused) -> TrainerState:
        """Train the model (from random weights for a preset name) on train_dataset."""
        return self._train(require_weights=False, resume=resume_from_checkpoint)

    def finetune(self, finetune_checkpoint=None, resume_from_checkpoint=None, **unused) -> TrainerState:
        """Train from pretrained weights (the model's own, or finetune_checkpoint's), with pet_method if set."""
        return self._train(require_weights=True, resume=resume_from_checkpoint, weights_from=finetune_checkpoint)

    def _train(self, require_weights: bool, resume=None, weights_from=None) -> TrainerState:
        args = self.args
        if self.train_dataset is None:
            raise TrainingError("no train_dataset: pass one to Trainer(...)")
        resume = args.resume_from_checkpoint if resume is None else resume
        ms.set_seed(args.seed)
        with graph_mode():
            self.topology, groups = self._setup_parallel()
            if self.topology.rank == 0:
                hold_output_dir(args.output_dir, TrainingError)
            checkpoint = self._find_checkpoint(resume) if resume else None
            examples, updates = None, None
            if self.objective is not None:
                config = self.model.config if self.model is not None else \
                    self._source_config(weights_from or self.model_source)
                examples = self._read_examples(self.train_dataset, config)
                updates = self.objective.config_updates(examples)
            model = self._get_model(require_weights, weights_from, updates)
            if quantization.weight_dtype(model) != "float32":
                raise TrainingError(f"the model's weights are {quantization.weight_dtype(model)} (quantised for "
                                    f"inference); train the float32 model and quantise it afterwards")
            if checkpoint is not None:
                from ..weights import load_state_dict

                weights, fmt = load_state_dict(checkpoint)
                model.load_weights(weights, fmt, where=str(checkpoint))
            self._apply_pet(model)
            self._apply_recompute(model)
            key_dropouts(model)  # masks from (seed, step, micro-batch, rank, layer): a resumed run redraws them
            if self.objective is not None and (self.topology.mp > 1 or self.topology.pp > 1):
                raise TrainingError(f"task '{self.task.name}' trains with data parallel and optimizer shard; "
                                    f"model and pipeline parallel are for causal language models")
            if self.topology.mp > 1:
                from ..parallel.tensor_parallel import apply_tensor_parallel

                apply_tensor_parallel(model, self._family(model).sharding_plan, self.topology.mp_rank,
                                      self.topology.mp, groups.get("mp"))
            if examples is not None:
                feed = BlockFeed(examples, args.batch_size * self.topology.dp, args.shuffle, args.data_seed)
            else:
                feed = make_feed(self.train_dataset, self.tokenizer, args.seq_length or _context_length(model),
                                 args.batch_size * self.topology.dp, args.shuffle, args.data_seed, args.on_bad_line,
                                 **self._data_options())
                _check_fits(model, feed.seq_length)
            self._train_examples = examples
            self._vocab_size = getattr(model.config, "vocab_size", None)
            accumulation = args.gradient_accumulation_steps
            steps_per_epoch = feed.num_batches // accumulation
            if steps_per_epoch == 0:
                raise TrainingError(f"gradient_accumulation_steps={accumulation} needs at least {accumulation} "
                                    f"batches per epoch; the data gives {feed.num_batches}")
            max_steps = args.max_steps if args.max_steps > 0 else math.ceil(args.num_train_epochs * steps_per_epoch)
            params = model.trainable_params()
            dp_group = groups.get("dp") if self.topology.dp > 1 else False
            self._pipeline = None
            if self.topology.pp > 1:
                from ..parallel.pipeline import PipelineRunner

                self._pipeline = PipelineRunner(model, args, self.topology, groups,
                                                self.parallel_config.micro_batch_num)
                optimizer, decayed, params = self._pipeline.optimizer, [], self._pipeline.params
            elif self.parallel_config.optimizer_shard:
                from ..parallel.zero import ShardedAdamW

                if args.optim != "adamw":
                    raise TrainingError(f"optimizer_shard works with optim='adamw', not '{args.optim}'")
                optimizer, decayed = ShardedAdamW(params, args, self.topology.dp_rank, self.topology.dp,
                                                  groups.get("dp")), []
            else:
                optimizer, decayed = build_optimizer(params, args)
            mp_group, sharded = False, ()
            if self._pipeline is not None:
                step = self._pipeline
            elif self.topology.mp > 1:
                from ..parallel.tensor_parallel import is_sharded

                mp_group = groups.get("mp")
                sharded = [is_sharded(model, p.name) for p in optimizer.parameters]
            if self._pipeline is None:
                loss_net = NextTokenLoss(model) if self.objective is None else \
                    self.objective.loss_cell(model, self.topology)
                step = TrainStep(loss_net, optimizer, decayed, args.max_grad_norm, args.weight_decay,
                                 accumulation, data_parallel_group=dp_group, model_parallel_group=mp_group,
                                 sharded=sharded)
            self.state = TrainerState(max_steps=max_steps)
            if checkpoint is not None:
                load_optimizer_state(optimizer, params, ckpt.load_optimizer_tensors(checkpoint, self.topology.rank),
                                     str(checkpoint))
                self.state = TrainerState.from_dict(ckpt.read_json(checkpoint / ckpt.STATE_NAME)["state"])
                self._say(f"resumed from {checkpoint} at step {self.state.global_step}")
            self.state.max_steps = max_steps
            self._loop(model, step, optimizer, params, feed, steps_per_epoch, checkpoint)
        return self.state

    def _setup_parallel(self):
        """The topology of this run and its communication groups, after validating the configuration."""
        from ..parallel.distributed import Topology, is_distributed, rank, world_size
        from ..parallel.validation import validate_parallel

        parallel = self.parallel_config
        if not is_distributed():
            self._check_single_process()
            return Topology(), {}
        config = self.model.config if self.model is not None else self._source_config()
        plan = self._family_of_config(config).sharding_plan if config is not None else None
        validate_parallel(parallel, world_size(), config, plan, self.args.batch_size,
                          self.args.gradient_accumulation_steps)
        topology = Topology(parallel.data_parallel, parallel.model_parallel, parallel.pipeline_stage, rank())
        return topology, topology.create_groups()

    def _source_config(self, source=None):
        from ..auto import AutoConfig

        source = source or self.model_source
        return AutoConfig.from_pretrained(source) if source is not None else None

    @staticmethod
    def _family_of_config(config):
        return get_registry().family(config.model_type)

    def _family(self, model):
        return self._family_of_config(model.config)

    def _find_checkpoint(self, resume) -> Path:
        if resume is True:
            checkpoint = ckpt.newest_complete(self.args.output_dir)
            if checkpoint is None:
                raise TrainingError(f"resume_from_checkpoint=True but {self.args.output_dir} has no complete "
                                    f"checkpoint; train without it to start fresh")
            return checkpoint
        checkpoint = Path(resume)
        problem = ckpt.problem_with(checkpoint) if checkpoint.is_dir() else f"{checkpoint} does not exist"
        if problem:
            raise TrainingError(f"cannot resume from {checkpoint}: {problem}")
        if self.topology.rank == 0:
            ckpt.set_aside_newer(self.args.output_dir, checkpoint)
        return checkpoint

    @property
    def is_main_process(self) -> bool:
        """Rank 0 writes logs, metrics and checkpoints."""
        return self.topology.rank == 0

    def _say(self, text):
        if self.is_main_process:
            print(text, flush=True)

    def _micro_batches(self, feed):
        while True:
            for batch in feed.epoch(self.state.epoch, self.state.batch_in_epoch):
                self.state.batch_in_epoch += 1
                yield batch
            self.state.epoch += 1
            self.state.batch_in_epoch = 0

    def _loop(self, model, step, optimizer, params, feed, steps_per_epoch, last_good):
        from tqdm import tqdm

        args, state = self.args, self.state
        hooks = get_plugin_manager().hook
        writer = MetricsWriter(args.output_dir, state.global_step) if self.is_main_process else None
        self._notify("on_train_begin")
        hooks.mf_on_train_begin(trainer=self)
        total, trainable = model.num_parameters(), model.num_parameters(only_trainable=True)
        layout = "" if self.topology.size == 1 else \
            f" on each of {self.topology.size} ranks (dp {self.topology.dp} x mp {self.topology.mp})"
        self._say(f"training {type(model).__name__}: {trainable:,} trainable of {total:,} parameters{layout}, "
                  f"{state.max_steps} steps")
        model.set_train(True)
        batches = self._micro_batches(feed)
        pending, window = [], []
        progress = tqdm(total=state.max_steps, initial=state.global_step, desc="training", unit="step",
                        dynamic_ncols=True, disable=not self.is_main_process)
        started = time.perf_counter()
        try:
            while state.global_step < state.max_steps and not state.should_stop:
                rng = np.random.default_rng([args.seed, state.global_step])
                micro = [self._step_arrays(next(batches), rng) for _ in range(args.gradient_accumulation_steps)]
                # the loss is normalised by the global batch's labelled items; each data-parallel rank
                # takes its rows
                tokens = sum(self._labelled(arrays) for arrays in micro)
                micro = [self._my_rows(arrays) for arrays in micro]
                if tokens == 0:
                    raise TrainingError(f"step {state.global_step + 1} has no labelled token (all padding)")
                lr = learning_rate_at(state.global_step, args, state.max_steps)
                set_learning_rate(optimizer, lr)
                loss, norm = self._run_step(step, micro, tokens)
                state.global_step += 1
                state.tokens_seen += sum(arrays[0].size for arrays in micro)
                pending.append((state.global_step, loss, norm, lr, sum(arrays[0].size for arrays in micro)))
                last = state.global_step >= state.max_steps
                save_now = args.save_steps and state.global_step % args.save_steps == 0
                eval_now = self._eval_due()
                if not args.sink_mode or len(pending) >= args.sink_size or last or save_now or eval_now:
                    flushed = self._flush(pending, last_good, hooks)
                    pending = []
                    progress.update(state.global_step - progress.n)
                    for record in flushed:
                        window.append(record)
                        if record["step"] % args.logging_steps == 0 or record["step"] == state.max_steps:
                            self._log(window, started, writer, progress)
                            window, started = [], time.perf_counter()
                    if eval_now:
                        self._log_eval(self.evaluate(), writer, hooks)
                    if save_now and not last:
                        last_good = self._save(model, optimizer, params, hooks)
            if pending:  # a callback stopped training inside a sink window
                self._flush(pending, last_good, hooks)
            progress.close()
            model.set_train(False)
            last_good = self._save(model, optimizer, params, hooks)
            self._save_final(model)
        finally:
            progress.close()
            model.set_train(False)
        self._notify("on_train_end")
        return state

    def _step_arrays(self, batch, rng):
        """A micro-batch as the loss net's data arguments: (input_ids, labels[, attention_mask]) for next-token
        prediction, the role's positional inputs and labels for an encoder task."""
        if self.objective is None:
            ids, labels, mask = model_inputs(batch)
            _check_token_range(ids, labels, self._vocab_size, f"step {self.state.global_step + 1}")
            return (ids, labels) if mask is None else (ids, labels, mask)
        batch = self.objective.collate(batch, rng, self._train_examples, training=True)
        return tuple(self.objective.model_arrays(batch))

    def _labelled(self, arrays) -> int:
        """Labelled items of a micro-batch: next-token labels, or what the objective counts (its first label
        array's labelled items)."""
        if self.objective is not None:
            return self.objective.count_arrays(arrays)
        return int((arrays[1] != IGNORE_INDEX).sum())

    def _run_step(self, step, micro, tokens):
        """One optimizer step over the micro-batches; returns (loss, grad norm) as Tensors."""
        if self._pipeline is not None:
            if len(micro[0]) > 2:
                raise TrainingError("pipeline parallel training takes packed data without padding")
            ids, labels = micro[0]
            return self._pipeline.step(ids, labels, tokens, self._key_dropout)
        loss = None
        for i, arrays in enumerate(micro):
            self._key_dropout(i)
            # next-token loss divides its sum by the step's tokens; a model's mean loss is weighted by its share
            scale = tokens if self.objective is None else self._labelled(arrays) / tokens
            part, norm = step(Tensor(np.float32(scale)), i == len(micro) - 1, *(Tensor(a) for a in arrays))
            loss = part if loss is None else loss + part
        return loss, norm

    def _key_dropout(self, micro_batch: int):
        set_dropout_key(self.args.seed, self.state.global_step, micro_batch, self.topology.dp_rank)

    def _my_rows(self, inputs):
        if self.topology.dp == 1:
            return inputs
        return tuple(np.array_split(part, self.topology.dp)[self.topology.dp_rank] for part in inputs)

    def _save_final(self, model):
        """The trained model (or LoRA adapter), tokenizer and loss curve in output_dir."""
        args = self.args
        pet = model.__dict__.get("_mf_pet")
        if pet and pet["method"] == "lora":
            if self.is_main_process:
                from ..pet import save_adapter

                save_adapter(model, args.output_dir)  # the adapter alone, as PEFT saves it
        else:
            weights = self._model_weights(model)
            if self.is_main_process:
                _save_weights(model, weights, args.output_dir)
        if self.is_main_process:
            if self.tokenizer is not None:
                self.tokenizer.save_pretrained(args.output_dir)
            if args.plot_loss:
                plot_loss_curve(self.state.log_history, Path(args.output_dir) / "loss_curve.png")

    def _model_weights(self, model):
        """The whole model's tensors (gathered from model-parallel ranks or pipeline stages: collective)."""
        if getattr(self, "_pipeline", None) is not None:
            return self._pipeline.full_state_dict(model)
        if model.__dict__.get("_mf_tensor_parallel"):
            from ..parallel.tensor_parallel import full_state_dict

            return full_state_dict(model)
        return model.state_dict()

    def _eval_due(self) -> bool:
        args = self.args
        every = args.eval_steps or args.logging_steps
        return bool(args.do_eval and self.eval_dataset is not None and self.state.global_step % every == 0)

    def _flush(self, pending, last_good, hooks):
        """Bring pending steps' losses to the host; stop on a non-finite loss; run step callbacks."""
        done = []
        for global_step, loss, norm, lr, tokens in pending:
            value = float(loss.asnumpy())
            if not math.isfinite(value):
                advice = (f"the last good checkpoint is {last_good}; resume from it with a lower learning_rate "
                          f"(or check the data)") if last_good else \
                    "no checkpoint was written yet; lower the learning_rate (or check the data)"
                raise TrainingError(f"the loss is {value} at step {global_step}; training stopped and {advice}")
            done.append({"step": global_step, "loss": value, "grad_norm": float(norm.asnumpy()),
                         "learning_rate": lr, "tokens": tokens})
            self._notify("on_step_end", self.state)
            hooks.mf_on_step_end(trainer=self, state=self.state)
        return done

    def _log(self, window, started, writer, progress):
        if writer is None:
            self.state.log_history.append({"step": window[-1]["step"],
                                           "loss": float(np.mean([w["loss"] for w in window]))})
            return
        elapsed = max(time.perf_counter() - started, 1e-9)
        record = {"step": window[-1]["step"], "epoch": self.state.epoch,
                  "loss": float(np.mean([w["loss"] for w in window])),
                  "learning_rate": window[-1]["learning_rate"], "grad_norm": window[-1]["grad_norm"],
                  "tokens_per_second": sum(w["tokens"] for w in window) / elapsed}
        self.state.log_history.append(record)
        writer.write(record)
        progress.set_postfix(loss=f"{record['loss']:.4f}", lr=f"{record['learning_rate']:.2e}",
                             tok_s=f"{record['tokens_per_second']:.0f}")

    def _log_eval(self, metrics, writer, hooks):
        record = {"step": self.state.global_step, **metrics}
        self.state.log_history.append(record)
        if writer is not None:
            writer.write(record)

    def _save(self, model, optimizer, params, hooks) -> Path:
        state = {"state": self.state.to_dict(), "args": self.args.to_dict(), "mf_format": 1,
                 "topology": {"dp": self.topology.dp, "mp": self.topology.mp, "pp": self.topology.pp}}
        path = ckpt.save_checkpoint(self.args.output_dir, self.state.global_step, model,
                                    optimizer_state(optimizer, params), state, weights=self._model_weights(model),
                                    rank=self.topology.rank, world=self.topology.size)
        if self.is_main_process:
            ckpt.rotate(self.args.output_dir, self.args.save_total_limit, protect=path)
        self._notify("on_save", path)
        hooks.mf_on_save(trainer=self, checkpoint_dir=path)
        return path

    def _notify(self, event, *payload):
        for callback in self.callbacks:
            getattr(callback, event, lambda *a: None)(self, *payload)

    # ---- evaluate / predict ------------------------------------------------------------
    def evaluate(self, eval_dataset=None, **unused) -> Dict[str, float]:
        """Perplexity (exp of the mean token NLL over labelled tokens) and loss on eval_dataset."""
        dataset = _check_dataset(eval_dataset, "eval_dataset", self.objective) if eval_dataset is not None \
            else self.eval_dataset
        if dataset is None:
            raise TrainingError("no eval_dataset: pass one to Trainer(...) or evaluate(eval_dataset=...)")
        if self.objective is not None:
            return self._evaluate_objective(dataset)
        with graph_mode():
            model = self._get_model(require_weights=True)
            feed = make_feed(dataset, self.tokenizer, self.args.seq_length or _context_length(model),
                             self.args.per_device_eval_batch_size,
                             False, 0, self.args.on_bad_line, **self._data_options())
            _check_fits(model, feed.seq_length)
            was_training = model.training
            model.set_train(False)
            step = EvalStep(model)
            total_nll, total_tokens = 0.0, 0.0
            for batch in feed.epoch(0):
                ids, labels, mask = model_inputs(batch)
                _check_token_range(ids, labels, getattr(model.config, "vocab_size", None), "evaluation")
                nll, count = step(Tensor(ids), Tensor(labels), None if mask is None else Tensor(mask))
                total_nll += float(nll.asnumpy())
                total_tokens += float(count.asnumpy())
            model.set_train(was_training)
        loss = total_nll / max(total_tokens, 1.0)
        metrics = {"eval_loss": loss, "eval_perplexity": math.exp(min(loss, 700.0)), "eval_tokens": int(total_tokens)}
        pairs = getattr(getattr(feed, "blocks", None), "pairs", None)
        if pairs and self.args.predict_with_generate:
            with graph_mode():
                metrics.update({f"eval_{name}": value for name, value in self._response_scores(model, pairs).items()})
        if self.compute_metrics is not None:
            metrics.update(self.compute_metrics(model, feed) or {})
        self._notify("on_evaluate", metrics)
        get_plugin_manager().hook.mf_on_evaluate(trainer=self, metrics=metrics)
        return metrics

    def _data_options(self):
        """How text data is read besides its format: the prompt/response fields and the response's length."""
        args = self.args
        columns = (args.prompt_column, args.response_column) if args.prompt_column else None
        return {"columns": columns, "max_response_length": args.max_target_length}

    def _response_scores(self, model, pairs) -> Dict[str, float]:
        """Generate a response to every prompt (greedy, or generation_num_beams) and score it against the data's."""
        from ..plugins import get_registry
        from ..tasks.prompt_response import score_responses

        names = self.args.response_metrics
        if names is None:
            names = get_registry().family(model.config.model_type).response_metrics or ("bleu", "chrf")
        return score_responses(model, self.tokenizer, pairs, list(names), self.args.per_device_eval_batch_size,
                               self.args.generation_max_length or self.args.max_target_length or 64,
                               self.args.generation_num_beams)

    def _evaluate_objective(self, dataset) -> Dict[str, float]:
        """The encoder task's loss and metrics over every example (the last batch padded to the same shape
        with unlabelled rows, so one compiled graph serves all batches)."""
        objective, size = self.objective, self.args.per_device_eval_batch_size
        with graph_mode():
            model = self._get_model(require_weights=True)
            examples = self._read_examples(dataset, model.config)
            was_training = model.training
            model.set_train(False)
            if getattr(self, "_forward", None) is None or self._forward.model is not model:
                # kept: evaluations during training reuse its compiled graph
                self._forward = objective.forward_cell(model)
            forward = self._forward
            rng = np.random.default_rng(0)  # masked LM: the same masks in every evaluation
            total_loss, total_count, kept, order = 0.0, 0, [], []
            for batch in examples.batches(size, drop_last=False):
                order.append(batch["row_index"])
                real = len(batch["row_index"])
                batch = objective.collate(batch, rng, examples)
                arrays = objective.model_arrays(batch)
                if real < size and objective.pad_last_batch:
                    arrays = [_pad_rows(a, size, IGNORE_INDEX if i >= len(arrays) - len(objective.label_names)
                                        else None) for i, a in enumerate(arrays)]
                loss, *outputs = forward(*(Tensor(a) for a in arrays))
                count = self._labelled(arrays)
                total_loss += float(loss.asnumpy()) * count
                total_count += count
                outputs = [o.asnumpy()[:real] for o in outputs]
                if objective.token_outputs:  # batches cut to a shorter width: back to seq_length
                    outputs = [_pad_tokens(o, examples.seq_length) for o in outputs]
                kept.append(objective.reduce_outputs(outputs, {k: v[:real] for k, v in batch.items()}))
            model.set_train(was_training)
        outputs = [np.concatenate(parts) for parts in zip(*kept)]
        if objective.row_outputs:  # in the examples' order (grouping by length reorders the batches)
            rows = np.argsort(np.concatenate(order), kind="stable")
            outputs = [o[rows] for o in outputs]
        loss = total_loss / max(total_count, 1)
        metrics = {"eval_loss": loss}
        if self.task.model_role == "masked_lm":
            metrics["eval_perplexity"] = math.exp(min(loss, 700.0))
        metrics.update({f"eval_{name}": value for name, value in objective.metrics(outputs, examples).items()})
        with graph_mode():
            generated = objective.generation_metrics(model, self.tokenizer, examples, size)
        metrics.update({f"eval_{name}": value for name, value in generated.items()})
        if self.compute_metrics is not None:
            metrics.update(self.compute_metrics(model, examples) or {})
        self._notify("on_evaluate", metrics)
        get_plugin_manager().hook.mf_on_evaluate(trainer=self, metrics=metrics)
        return metrics

    def predict(self, input_data=None, **generate_kwargs):
        """Run the task's pipeline on input_data (text or a list of texts)."""
        if input_data is None:
            raise TrainingError("predict needs input_data (a text or a list of texts)")
        if self.task.pipeline_class is None:
            raise TrainingError(f"task '{self.task.name}' has no pipeline to predict with")
        model = self._get_model(require_weights=True)
        if self.tokenizer is None:
            raise TrainingError("predict needs a tokenizer: pass tokenizer= to the Trainer")
        pipe = self.task.pipeline_class(model=model, tokenizer=self.tokenizer)
        if self.task.name == "question_answering" and isinstance(input_data, str):
            raise TrainingError("question_answering predicts from {'question': ..., 'context': ...} (with mf run: "
                                "--predict_data '{\"question\": \"...\", \"context\": \"...\"}')")
        return pipe(input_data, **generate_kwargs)


def _preset_pet(model_source) -> dict:
    """The PET settings a preset carries (e.g. gpt2_lora), or {}."""
    if not isinstance(model_source, str):
        return {}
    preset = get_registry().presets.get(model_source)
    return dict(preset.pet) if preset is not None and preset.pet else {}


def _check_dataset(dataset, name, objective=None):
    """Fail early on a path that does not exist or whose format is unknown."""
    if dataset is None or not isinstance(dataset, (str, Path)):
        return dataset
    from ..data import DatasetError

    path = user_path(dataset)
    if not path.exists():
        raise DatasetError(f"{name} {path} does not exist")
    if objective is not None:  # the task's reader says what is wrong with its format
        return str(path)
    if not any(handler.detect(path) for _, handler in get_registry().datasets.items()
               if getattr(handler, "kind", "tokens") == "tokens"):
        raise DatasetError(f"{name} {path}: unknown format; expected a MindRecord directory (`mf data prepare`), "
                           f"a .jsonl file with {{\"text\": ...}} lines, or a .txt file")
    return str(path)


def _check_token_range(ids, labels, vocab, where):
    """Token ids and labels outside the vocabulary would be read as zero embeddings or turn the loss into
    NaN: stop before the step, naming the value."""
    if vocab is None:
        return
    for what, values, ignored in (("token id", ids, None), ("label", labels, IGNORE_INDEX)):
        wrong = (values < 0) | (values >= vocab)
        if ignored is not None:
            wrong &= values != ignored
        if wrong.any():
            raise TrainingError(
                f"{where}: {what} {int(values[wrong][0])} is outside the model's vocabulary [0, {vocab})"
                + (f" and is not the ignore label {ignored}" if ignored is not None else "")
                + "; the data was tokenized with another vocabulary than the model's: use the model's tokenizer, "
                  "or a model whose vocab_size covers the data")


def _pad_tokens(array, width):
    """[rows, tokens, ...] outputs padded with zeros along the token axis to `width`."""
    missing = width - array.shape[1]
    if missing <= 0:
        return array
    return np.pad(array, [(0, 0), (0, missing)] + [(0, 0)] * (array.ndim - 2))


def _pad_rows(array, rows, fill=None):
    """array with rows added up to `rows`: copies of its last row, or `fill` (unlabelled) for labels."""
    extra = np.repeat(array[-1:], rows - len(array), axis=0)
    if fill is not None:
        extra[...] = fill
    return np.concatenate([array, extra])


def _save_weights(model, weights, directory):
    from ..weights import MF_FORMAT, save_state_dict

    save_state_dict(weights, directory, MF_FORMAT, extra_metadata={"model_type": model.config.model_type})
    model.config.save_pretrained(directory, architectures=[type(model).__name__])


def _context_length(model) -> Optional[int]:
    return model.max_positions() if hasattr(model, "max_positions") else None


def _check_fits(model, seq_length):
    limit = _context_length(model)
    if limit is not None and seq_length > limit:
        raise TrainingError(f"the data has sequences of {seq_length} tokens but the model's context is {limit}; "
                            f"prepare the data with a seq_length of at most {limit}")
