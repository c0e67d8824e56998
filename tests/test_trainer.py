"""The Trainer end to end on GPT-2: learning, evaluation, accumulation, resume, checkpoints, bad input."""
import json
import math
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
import mindspore as ms
from mindspore import Tensor

from mf import (AutoConfig, AutoModel, AutoTokenizer, Callback, GPT2Config, GPT2LMHeadModel, TokenBlocks, Trainer,
                TrainingArguments)
from mf.data import DatasetError
from mf.trainer import TrainingError

ROOT = Path(__file__).resolve().parents[1]
BOTCHAN = ROOT / "core" / "src" / "mf" / "data" / "texts" / "botchan.txt"


def tiny_model(seed=0, **overrides):
    ms.set_seed(seed)
    config = dict(vocab_size=97, hidden_size=32, num_layers=2, num_heads=2, seq_length=32,
                  hidden_dropout=0.0, embedding_dropout=0.0, attention_dropout=0.0)
    return GPT2LMHeadModel(GPT2Config(**{**config, **overrides}))


def patterned_blocks(rows=64, width=17, seed=0):
    """Rows following a learnable pattern (each token is the previous plus a row-specific step)."""
    rng = np.random.default_rng(seed)
    start = rng.integers(0, 97, (rows, 1))
    step = rng.integers(1, 4, (rows, 1))
    return TokenBlocks((start + step * np.arange(width)) % 97)


def read_metrics(output_dir):
    return [json.loads(line) for line in (Path(output_dir) / "metrics.jsonl").read_text().splitlines()]


def test_loss_falls_and_perplexity_drops_on_real_text(tmp_path):
    tokenizer = AutoTokenizer.from_pretrained("gpt2")
    text = BOTCHAN.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    (tmp_path / "train.txt").write_text(text[:60000])
    (tmp_path / "eval.jsonl").write_text("".join(json.dumps({"text": text[i:i + 2000]}) + "\n"
                                                 for i in range(60000, 70000, 2000)))
    ms.set_seed(0)
    model = AutoModel.from_config(AutoConfig.from_pretrained("gpt2_tiny"))
    args = TrainingArguments(output_dir=str(tmp_path / "out"), batch_size=8, learning_rate=3e-3, max_steps=40,
                             warmup_steps=4, logging_steps=5, save_steps=0, seq_length=64)
    trainer = Trainer(model=model, args=args, train_dataset=str(tmp_path / "train.txt"),
                      eval_dataset=str(tmp_path / "eval.jsonl"), tokenizer=tokenizer)
    before = trainer.evaluate()
    trainer.train()
    after = trainer.evaluate()
    losses = [r["loss"] for r in read_metrics(tmp_path / "out") if "loss" in r]
    assert losses[-1] < losses[0] - 2.0
    assert after["eval_perplexity"] < before["eval_perplexity"] / 10
    assert (tmp_path / "out" / "loss_curve.png").stat().st_size > 1000
    assert (tmp_path / "out" / "model.safetensors").is_file() and (tmp_path / "out" / "vocab.json").is_file()
    record = read_metrics(tmp_path / "out")[0]
    assert {"step", "loss", "learning_rate", "grad_norm", "tokens_per_second"} <= set(record)


def test_evaluate_is_exp_of_mean_token_nll_from_the_logits(tmp_path):
    model = tiny_model()
    blocks = patterned_blocks(rows=10)
    mask = np.ones_like(blocks.input_ids)
    mask[:3, -5:] = 0  # padding must not count
    blocks.attention_mask = mask
    metrics = Trainer(model=model, args=TrainingArguments(output_dir=str(tmp_path), per_device_eval_batch_size=4),
                      eval_dataset=blocks).evaluate()
    model.set_train(False)
    total, count = 0.0, 0
    for start in range(0, 8, 4):  # two full batches of 4 (the last partial batch is dropped)
        rows, row_mask = blocks.input_ids[start:start + 4], mask[start:start + 4]
        logits = model(Tensor(rows[:, :-1]), Tensor(row_mask[:, :-1])).asnumpy().astype(np.float64)
        log_probs = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) \
            - logits.max(-1, keepdims=True)
        picked = np.take_along_axis(log_probs, rows[:, 1:, None], -1)[..., 0]
        total -= (picked * row_mask[:, 1:]).sum()
        count += row_mask[:, 1:].sum()
    assert metrics["eval_tokens"] == count
    assert abs(metrics["eval_perplexity"] - math.exp(total / count)) < 1e-3 * math.exp(total / count)


def _one_step(tmp_path, batch_size, accumulation):
    model = tiny_model(seed=3)
    # adam_epsilon 1e-3: with 1e-8 AdamW's first step moves nearly every weight by +-lr whatever its gradient's
    # size (98% of them here), so the parameters said little about the gradients beyond their signs, and a
    # gradient of ~1e-6 whose float32 sums were rounded differently (another CPU's code) moved its weight by
    # 1.1e-5. With 1e-3 the step is about proportional to the gradient (median 2e-4), and the two runs agree
    # to 4e-9.
    args = TrainingArguments(output_dir=str(tmp_path / f"b{batch_size}x{accumulation}"), batch_size=batch_size,
                             gradient_accumulation_steps=accumulation, learning_rate=1e-2, max_steps=1,
                             logging_steps=1, save_steps=0, shuffle=False, max_grad_norm=0.5, weight_decay=0.1,
                             adam_epsilon=1e-3)
    blocks = patterned_blocks(rows=8)
    mask = np.ones_like(blocks.input_ids)
    mask[1, -6:] = 0  # unequal token counts per micro-batch: the loss must still be the global mean
    blocks.attention_mask = mask
    Trainer(model=model, args=args, train_dataset=blocks).train()
    loss = read_metrics(args.output_dir)[0]["loss"]
    return loss, model.state_dict()


def test_gradient_accumulation_equals_one_big_batch(tmp_path):
    big_loss, big_params = _one_step(tmp_path, batch_size=8, accumulation=1)
    acc_loss, acc_params = _one_step(tmp_path, batch_size=2, accumulation=4)
    assert abs(big_loss - acc_loss) < 1e-5
    for name in big_params:
        np.testing.assert_allclose(acc_params[name], big_params[name], atol=1e-6, rtol=0)


RESUME_SCRIPT = r'''
import sys, time, numpy as np, mindspore as ms
ms.set_device("CPU")
from mf import Callback, GPT2Config, GPT2LMHeadModel, TokenBlocks, Trainer, TrainingArguments
ms.set_seed(0)
# dropout on everywhere: its masks are keyed by (seed, step, micro-batch), so a resumed run redraws them
model = GPT2LMHeadModel(GPT2Config(vocab_size=97, hidden_size=32, num_layers=2, num_heads=2, seq_length=32,
                                   hidden_dropout=0.1, embedding_dropout=0.1, attention_dropout=0.1))
rng = np.random.default_rng(0)
blocks = TokenBlocks(rng.integers(0, 97, (48, 17)))
args = TrainingArguments(output_dir=sys.argv[1], batch_size=4, learning_rate=5e-3, max_steps=16, logging_steps=1,
                         save_steps=4, seed=0, resume_from_checkpoint=(sys.argv[2] == "resume") or None)


class SlowAfterEight(Callback):
    """Steps of this tiny model take milliseconds: after step 8 the first run slows down, so that the
    test sees checkpoint-8 and kills the process before it finishes (it cannot change the losses)."""

    def on_step_end(self, trainer, state):
        if sys.argv[2] == "fresh" and state.global_step > 8:
            time.sleep(1.0)


Trainer(model=model, args=args, train_dataset=blocks, callbacks=[SlowAfterEight()]).train()
'''


def numpy_adamw(param, m, v, grad, step, lr, weight_decay, beta1=0.9, beta2=0.999, eps=1e-8):
    """Decoupled decay, then MindSpore's Adam (its documented formula): the reference for mf's AdamW."""
    param = param * (1 - lr * weight_decay)
    m = m + (grad - m) * (1 - beta1)
    v = v + (grad * grad - v) * (1 - beta2)
    step_size = lr * np.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
    return param - step_size * m / (np.sqrt(v) + eps), m, v


@pytest.mark.parametrize("fused", [True, False], ids=["kernel", "mindspore-adam"])
def test_adamw_step_is_adam_with_clipping_and_decoupled_decay_on_matrices(fused):
    """Three TrainStep updates equal numpy's AdamW on gradients taken before each step, clipped by their global
    norm (max_grad_norm small enough that clipping acts), with decay on matrices only. The fused kernel writes
    parameters in place, so a wrong order (an update before a backward product read the weight) fails too."""
    from mf.trainer.optim import AdamW, build_optimizer
    from mf.trainer.step import NextTokenLoss, TrainStep

    ms.set_context(mode=ms.GRAPH_MODE)
    model = tiny_model(seed=3)
    model.set_train(True)
    # eps near sqrt(v): where eps goes (before or after the bias correction of v) shows
    args = TrainingArguments(learning_rate=0.01, weight_decay=0.1, adam_epsilon=1e-4)
    optimizer, decayed = build_optimizer(model.trainable_params(), args)
    assert isinstance(optimizer, AdamW) and decayed == []
    if not fused:
        optimizer.fused = None
    elif optimizer.fused is None:
        pytest.skip("mf's kernels are unavailable here")
    max_grad_norm = 0.05
    step = TrainStep(NextTokenLoss(model), optimizer, decayed, max_grad_norm, args.weight_decay, 1)
    gradients = ms.value_and_grad(NextTokenLoss(model), None, optimizer.parameters)
    ids = Tensor(np.random.default_rng(0).integers(0, 97, (2, 9)).astype(np.int32))
    inputs, labels, scale = ids[:, :-1], ids[:, 1:], Tensor(np.float32(16))
    params = [p.asnumpy() for p in optimizer.parameters]
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
    decays = [p.ndim >= 2 for p in params]
    for t in (1, 2, 3):
        _, grads = gradients(scale, inputs, labels)
        grads = [g.asnumpy().astype(np.float64) for g in grads]
        norm = np.sqrt(sum((g * g).sum() for g in grads))
        assert norm > max_grad_norm  # clipping acts
        coefficient = min(max_grad_norm / (norm + 1e-6), 1.0)
        updated = [numpy_adamw(p.astype(np.float64), m, v, g * coefficient, t, 0.01, 0.1 if decay else 0.0,
                               eps=1e-4)
                   for p, (m, v), g, decay in zip(params, moments, grads, decays)]
        params = [u[0] for u in updated]
        moments = [(u[1], u[2]) for u in updated]
        step(scale, True, inputs, labels)[0].asnumpy()
        for reference, param in zip(params, optimizer.parameters):
            np.testing.assert_allclose(param.asnumpy(), reference, rtol=1e-4, atol=2e-6, err_msg=param.name)
        params = [p.asnumpy() for p in optimizer.parameters]  # go on from mf's own values: no drift builds up
    for (m, v), m_param, v_param in zip(moments, optimizer.moment1, optimizer.moment2):
        np.testing.assert_allclose(m_param.asnumpy(), m, rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(v_param.asnumpy(), v, rtol=1e-4, atol=1e-9)
    assert float(optimizer.beta1_power.asnumpy()) == pytest.approx(0.9 ** 3)
    assert int(optimizer.global_step.asnumpy()[0]) == 3


def _losses_by_step(output_dir):
    return {r["step"]: r["loss"] for r in read_metrics(output_dir) if "loss" in r}


def test_resume_after_sigkill_gives_the_same_losses(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(RESUME_SCRIPT)
    reference = subprocess.run([sys.executable, str(script), str(tmp_path / "full"), "reference"],
                               capture_output=True, text=True, timeout=600)
    assert reference.returncode == 0, reference.stderr
    killed = subprocess.Popen([sys.executable, str(script), str(tmp_path / "cut"), "fresh"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (tmp_path / "cut" / "checkpoint-8").is_dir() and time.time() < deadline and killed.poll() is None:
        time.sleep(0.05)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert (tmp_path / "cut" / "checkpoint-8").is_dir()
    assert not (tmp_path / "cut" / "checkpoint-16").exists(), "the run finished before it was killed"
    resumed = subprocess.run([sys.executable, str(script), str(tmp_path / "cut"), "resume"],
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout
    full, cut = _losses_by_step(tmp_path / "full"), _losses_by_step(tmp_path / "cut")
    assert sorted(full) == list(range(1, 17))
    for step in range(9, 17):
        assert abs(full[step] - cut[step]) < 1e-6, (step, full[step], cut[step])


def test_truncated_checkpoint_falls_back_to_the_previous_one(tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), batch_size=4, max_steps=4, save_steps=2, logging_steps=1)
    Trainer(model=tiny_model(), args=args, train_dataset=patterned_blocks()).train()
    newest = tmp_path / "checkpoint-4" / "model.safetensors"
    newest.write_bytes(newest.read_bytes()[:-100])
    args = TrainingArguments(output_dir=str(tmp_path), batch_size=4, max_steps=6, save_steps=2, logging_steps=1,
                             resume_from_checkpoint=True)
    trainer = Trainer(model=tiny_model(), args=args, train_dataset=patterned_blocks())
    with pytest.warns(UserWarning, match="skipping checkpoint checkpoint-4: .*truncated"):
        state = trainer.train()
    assert state.global_step == 6
    steps = [r["step"] for r in read_metrics(tmp_path) if "loss" in r]
    assert steps[-3:] == [3, 4, 5, 6][-3:] or steps[-4:] == [3, 4, 5, 6]


def test_save_total_limit_keeps_the_newest(tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), batch_size=4, max_steps=8, save_steps=2, save_total_limit=2)
    Trainer(model=tiny_model(), args=args, train_dataset=patterned_blocks()).train()
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-6", "checkpoint-8"]
    assert not list(tmp_path.glob(".checkpoint-*"))


def test_nan_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    class PoisonAfterFive(Callback):
        """Makes the weights NaN after step 5, as a diverging run would."""

        def on_step_end(self, trainer, state):
            if state.global_step == 5:
                weight = trainer.model.transformer.wte.weight
                weight.set_data(Tensor(np.full(weight.shape, np.nan, np.float32)))

    args = TrainingArguments(output_dir=str(tmp_path), batch_size=4, max_steps=20, save_steps=2, logging_steps=1)
    with pytest.raises(TrainingError, match=r"the loss is nan at step 6; training stopped and the last good "
                                            r"checkpoint is .*checkpoint-4; resume from it") as err:
        Trainer(model=tiny_model(), args=args, train_dataset=patterned_blocks(), callbacks=[PoisonAfterFive()]).train()
    last_good = tmp_path / "checkpoint-4"
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    weights = AutoModel.from_pretrained(str(last_good)).state_dict()
    assert all(np.isfinite(v).all() for v in weights.values())


def test_callbacks_and_plugin_hooks_fire_and_can_stop_training(tmp_path):
    from mf import hookimpl
    from mf.plugins import get_plugin_manager

    seen = []

    class StopAtThree(Callback):
        def on_step_end(self, trainer, state):
            seen.append(("callback", state.global_step))
            state.should_stop = state.global_step >= 3

    plugin = types.ModuleType("hook_recorder")
    plugin.mf_on_train_begin = hookimpl(lambda trainer: seen.append(("begin", 0)), specname="mf_on_train_begin")
    plugin.mf_on_save = hookimpl(lambda trainer, checkpoint_dir: seen.append(("save", Path(checkpoint_dir).name)),
                                 specname="mf_on_save")
    manager = get_plugin_manager()
    manager.register(plugin, name="hook_recorder")
    try:
        args = TrainingArguments(output_dir=str(tmp_path), batch_size=4, max_steps=10, save_steps=0)
        state = Trainer(model=tiny_model(), args=args, train_dataset=patterned_blocks(),
                        callbacks=[StopAtThree()]).train()
    finally:
        manager.unregister(plugin)
    assert state.global_step == 3
    assert seen[0] == ("begin", 0)
    assert [s for kind, s in seen if kind == "callback"] == [1, 2, 3]
    assert ("save", "checkpoint-3") in seen


def test_sink_mode_runs_the_same_steps(tmp_path):
    plain = TrainingArguments(output_dir=str(tmp_path / "plain"), batch_size=4, max_steps=6, logging_steps=1,
                              save_steps=0)
    sunk = TrainingArguments(output_dir=str(tmp_path / "sink"), batch_size=4, max_steps=6, logging_steps=1,
                             save_steps=0, sink_mode=True, sink_size=3)
    Trainer(model=tiny_model(), args=plain, train_dataset=patterned_blocks()).train()
    Trainer(model=tiny_model(), args=sunk, train_dataset=patterned_blocks()).train()
    assert _losses_by_step(tmp_path / "plain") == pytest.approx(_losses_by_step(tmp_path / "sink"), abs=1e-6)


def test_bad_datasets(tmp_path):
    with pytest.raises(DatasetError, match="train_dataset .*nowhere does not exist"):
        Trainer(model=tiny_model(), train_dataset=str(tmp_path / "nowhere"))
    (tmp_path / "data.parquet").write_bytes(b"PAR1")
    with pytest.raises(DatasetError, match="unknown format"):
        Trainer(model=tiny_model(), train_dataset=str(tmp_path / "data.parquet"))
    with pytest.raises(DatasetError, match="batch size 100 is larger than the dataset"):
        Trainer(model=tiny_model(), args=TrainingArguments(output_dir=str(tmp_path), batch_size=100),
                train_dataset=patterned_blocks(rows=10)).train()


def test_bad_jsonl_line_is_reported_as_file_and_line_or_skipped(tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text('{"text": "hello world, this is fine"}\n{"text": oops}\n' +
                    "".join(json.dumps({"text": "more text " * 20}) + "\n" for _ in range(20)))
    tokenizer = AutoTokenizer.from_pretrained("gpt2")
    args = TrainingArguments(output_dir=str(tmp_path / "o"), batch_size=2, max_steps=1, seq_length=16)
    with pytest.raises(DatasetError, match=rf"{data}:2: not valid JSON"):
        Trainer(model="gpt2_tiny", args=args, train_dataset=str(data), tokenizer=tokenizer).train()
    args = TrainingArguments(output_dir=str(tmp_path / "o"), batch_size=2, max_steps=1, seq_length=16,
                             on_bad_line="skip")
    with pytest.warns(UserWarning, match=rf"skipping {data}:2"):
        Trainer(model="gpt2_tiny", args=args, train_dataset=str(data), tokenizer=tokenizer).train()


def test_bad_training_arguments():
    with pytest.raises(TrainingError, match="lr_scheduler_type 'exponential' is unknown"):
        TrainingArguments(lr_scheduler_type="exponential")
    with pytest.raises(TrainingError, match="no bf16 matmul"):
        TrainingArguments(compute_dtype="bfloat16")
    with pytest.raises(TrainingError, match="gradient_accumulation_steps must be an integer >= 1"):
        TrainingArguments(gradient_accumulation_steps=0)


def test_mf_data_prepare_packs_with_eos_and_reports(tmp_path):
    data = tmp_path / "docs.jsonl"
    data.write_text("".join(json.dumps({"text": f"document number {i} says hello"}) + "\n" for i in range(10)))
    result = subprocess.run([sys.executable, "-m", "mf.cli", "data", "prepare", str(data), str(tmp_path / "mr"),
                             "--tokenizer", "gpt2", "--seq-length", "8"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    tokenizer = AutoTokenizer.from_pretrained("gpt2")
    stream = []
    for i in range(10):
        stream += tokenizer.encode(f"document number {i} says hello", add_special_tokens=False) + [50256]
    rows = len(stream) // 9
    assert f"10 documents, {len(stream)} tokens" in result.stdout and f"{rows} samples of 9 tokens" in result.stdout
    from mf import load_dataset

    blocks = load_dataset(str(tmp_path / "mr"))
    np.testing.assert_array_equal(blocks.input_ids, np.array(stream[:rows * 9]).reshape(rows, 9))


def test_tutorial_examples_run(tmp_path, monkeypatch):
    """The tutorial's init_context, TrainingArguments and Trainer examples, with mf for mindformers.

    The tutorial's models (gpt2, pangualpha_2_6b) would take hours per step here, so the
    training itself runs on gpt2_tiny; the calls are the tutorial's."""
    from mindspore.dataset import GeneratorDataset

    from mf import ContextConfig, ParallelContextConfig, init_context

    monkeypatch.chdir(tmp_path)

    def context_init():
        context_config = ContextConfig(mode=0, device_target="Ascend", device_id=0)
        rank_id, device_num = init_context(use_parallel=False, context_config=context_config)
        assert (rank_id, device_num) == (0, 1)

    with pytest.warns(UserWarning, match="device_target 'Ascend' is not available"):
        context_init()
    training_args = TrainingArguments(num_train_epochs=3, batch_size=2, learning_rate=0.001, warmup_steps=1000,
                                      sink_mode=True)

    def generator():
        seq_len = 1025
        input_ids = np.random.randint(low=0, high=15, size=(seq_len,)).astype(np.int32)
        for _ in range(512):
            yield input_ids

    dataset = GeneratorDataset(generator, column_names=["input_ids"])
    train_dataset = dataset.batch(batch_size=4)
    eval_dataset = dataset.batch(batch_size=4)
    # the tutorial's model is AutoModel.from_pretrained("pangualpha_2_6b")
    model = AutoModel.from_config(AutoConfig.from_pretrained("gpt2_tiny", seq_length=1024))
    text_generation = Trainer(task='text_generation', model=model, args=training_args,
                              train_dataset=train_dataset, eval_dataset=eval_dataset)
    text_generation.set_parallel_config(data_parallel=4, model_parallel=2, pipeline_stage=2, micro_batch_num=2,
                                        optimizer_shard=True)
    text_generation.set_recompute_config(recompute=True)
    assert text_generation.parallel_config.world_size == 16
    with pytest.raises(TrainingError, match="asks for 16 devices .* single process"):
        text_generation.train()
    text_generation.set_parallel_config(data_parallel=1, model_parallel=1, pipeline_stage=1)
    text_generation.args = TrainingArguments(batch_size=2, learning_rate=0.001, warmup_steps=2, sink_mode=True,
                                             sink_size=2, max_steps=2, output_dir="./output")
    state = text_generation.train()
    assert state.global_step == 2
    assert all(math.isfinite(r["loss"]) for r in state.log_history)


def test_jsonl_lines_that_are_not_text_are_bad_lines_not_tracebacks(tmp_path):
    """A UTF-8 byte-order mark is dropped; a line in another encoding, with a lone surrogate escape or nested too
    deeply is one bad line, named with its number, that on_bad_line='skip' skips."""
    from mf.data.formats import JsonlFormat

    data = tmp_path / "d.jsonl"
    data.write_bytes(b'\xef\xbb\xbf{"text": "first, after a BOM"}\n' + b'{"text": "caf\xe9 in Latin-1"}\n' +
                     b'{"text": "a \\ud800 lone surrogate"}\n' + b"[" * 100000 + b"\n" +
                     b'{"text": "a pair \\ud83d\\ude00 is fine"}\n')
    with pytest.warns(UserWarning) as caught:
        texts = list(JsonlFormat().documents(data, on_bad_line="skip"))
    assert texts == ["first, after a BOM", "a pair \U0001F600 is fine"]
    messages = " | ".join(str(w.message) for w in caught)
    assert f"{data}:2: not UTF-8 (byte 0xe9" in messages and f"{data}:3: a string holds a lone surrogate" in messages
    assert f"{data}:4: JSON nested too deeply" in messages
    with pytest.raises(DatasetError, match=rf"{data}:2: not UTF-8"):
        list(JsonlFormat().documents(data))


def test_a_second_run_into_a_busy_output_dir_is_refused(tmp_path):
    """Another process training into the same output_dir holds it: this run stops at once instead of mixing
    checkpoints with it; once that process ends, the folder is free."""
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom mf.trainer.lock import hold_output_dir\n"
                               "hold_output_dir(sys.argv[1])\nprint('held', flush=True)\ntime.sleep(60)\n",
                               str(tmp_path / "out")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        args = TrainingArguments(output_dir=str(tmp_path / "out"), batch_size=2, max_steps=1, seq_length=16)
        with pytest.raises(TrainingError, match="is in use by another training run"):
            Trainer(model=tiny_model(), args=args, train_dataset=patterned_blocks(rows=8)).train()
    finally:
        holder.kill()
        holder.wait()
    state = Trainer(model=tiny_model(), args=args, train_dataset=patterned_blocks(rows=8)).train()
    assert state.global_step == 1


def test_damaged_checkpoints_are_detected_and_a_resumed_branch_stays_the_branch(tmp_path):
    """A checkpoint whose bytes changed in place (same size) or whose trainer_state.json is malformed is reported
    (resume_from_checkpoint=True then takes the previous one); resuming from an explicit older checkpoint sets the
    later ones aside, so the next resume_from_checkpoint=True continues that branch; metrics.jsonl holds every
    step once."""
    import shutil

    from mf.trainer.checkpoint import newest_complete, problem_with

    def run(max_steps, resume):
        args = TrainingArguments(output_dir=str(tmp_path / "out"), batch_size=4, max_steps=max_steps, save_steps=2,
                                 logging_steps=1, resume_from_checkpoint=resume)
        return Trainer(model=tiny_model(), args=args, train_dataset=patterned_blocks()).train()

    run(6, None)
    out = tmp_path / "out"
    corrupted = shutil.copytree(out / "checkpoint-6", tmp_path / "corrupted")
    data = bytearray((corrupted / "optimizer.safetensors").read_bytes())
    data[-8:] = b"\xff" * 8  # the same size, the header still parses
    (corrupted / "optimizer.safetensors").write_bytes(bytes(data))
    assert "SHA-256 differs" in problem_with(corrupted)
    malformed = shutil.copytree(out / "checkpoint-6", tmp_path / "malformed")
    state = json.loads((malformed / "trainer_state.json").read_text())
    for broken, message in [({**state, "state": {"global_step": "six"}}, "state.global_step"),
                            ({**state, "files": ["model.safetensors"]}, "'files' must map"), ([], "JSON object")]:
        (malformed / "trainer_state.json").write_text(json.dumps(broken))
        assert "malformed" in problem_with(malformed) and message in problem_with(malformed)
    with pytest.warns(UserWarning, match="the later checkpoint-6 belongs to the abandoned run"):
        assert run(4, str(out / "checkpoint-2")).global_step == 4
    assert (out / "abandoned-checkpoint-6").is_dir() and newest_complete(out) == out / "checkpoint-4"
    assert [r["step"] for r in read_metrics(out) if "loss" in r] == [1, 2, 3, 4]


def test_token_ids_or_labels_outside_the_vocabulary_stop_before_the_step(tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), batch_size=4, max_steps=2, logging_steps=1)
    ids = np.random.default_rng(0).integers(0, 97, (8, 17))
    ids[5, 3] = 97
    with pytest.raises(TrainingError, match="step 2: token id 97 is outside the model's vocabulary \\[0, 97\\)"):
        Trainer(model=tiny_model(), args=args, train_dataset=TokenBlocks(ids)).train()
    labels = np.where(ids == 97, 5, ids)
    labels[0, 2] = -7
    blocks = TokenBlocks(np.where(ids == 97, 5, ids), labels=labels)
    with pytest.raises(TrainingError, match="label -7 is outside .* and is not the ignore label -100"):
        Trainer(model=tiny_model(), args=TrainingArguments(output_dir=str(tmp_path / "b"), batch_size=4,
                                                           max_steps=2), train_dataset=blocks).train()


def test_a_huge_document_is_tokenized_in_pieces_with_the_same_tokens(monkeypatch):
    """Issue 19, item 5: one 54 MB line took 8 GB; pieces cut after a newline keep memory near 4 bytes per token
    (measured 801 MB peak for 54 MB) and give the whole document's tokens."""
    from mf.data import blocks as packing

    tokenizer = AutoTokenizer.from_pretrained("gpt2")
    text = BOTCHAN.read_text(encoding="utf-8")[:60000]
    pieces = list(packing.document_pieces(text, size=5000))
    assert "".join(pieces) == text and len(pieces) > 10
    assert all(piece.endswith("\n") for piece in pieces[:-1])
    assert list(packing.document_pieces("x" * 12, size=5)) == ["xxxxx", "xxxxx", "xx"]  # no newline: cut anywhere
    whole, _ = packing.pack_documents([text], tokenizer, 64)
    monkeypatch.setattr(packing, "PIECE_CHARS", 5000)
    pieced, summary = packing.pack_documents([text], tokenizer, 64)
    np.testing.assert_array_equal(pieced.input_ids, whole.input_ids)
    assert summary["documents"] == 1


def test_text_files_stream_in_blocks_with_the_paragraphs_of_one_split(tmp_path, monkeypatch):
    """Text datasets are read in blocks (a file of any size streams through); the paragraphs are those of
    splitting the whole text at blank lines, whatever the block size (\\r\\n and a BOM handled across blocks)."""
    import random

    from mf.data import formats

    def whole_split(text):
        text = text.lstrip("\ufeff").replace("\r\n", "\n")
        return [part for part in text.split("\n\n") if part.strip()]

    chance = random.Random(0)
    pieces = ["a", "b c", "\n", "\n\n", "\n\n\n", " ", "\r\n", "\r\n\r\n", "x\ny", "\t", "\r", "é"]
    path = tmp_path / "data.txt"
    for block in (1, 2, 3, 7, 1 << 20):
        monkeypatch.setattr(formats, "READ_BLOCK", block)
        for _ in range(300):
            text = ("\ufeff" if chance.random() < 0.2 else "") + \
                "".join(chance.choice(pieces) for _ in range(chance.randint(0, 14)))
            path.write_bytes(text.encode())
            assert list(formats.TextFormat().documents(path)) == whole_split(text), (block, text)
