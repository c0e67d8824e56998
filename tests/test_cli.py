"""The `mf` command end to end, as a user runs it."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
HF_GPT2 = ROOT / "plugins" / "mf-gpt" / "tests" / "fixtures" / "tiny-gpt2"


def mf(*args, env=None):
    return subprocess.run([sys.executable, "-m", "mf.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)


def test_demo_trains_and_lowers_perplexity(tmp_path):
    result = mf("demo", "--steps", "20", "--output", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    line = next(l for l in result.stdout.splitlines() if l.startswith("trained 20 steps"))
    before, after = (float(v.replace(",", "")) for v in line.split("perplexity ")[1].split(" -> "))
    assert after < before / 5
    assert "sample: 'I was" in result.stdout
    out = tmp_path / "out"
    for kept in ("loss_curve.png", "model.safetensors", "config.json", "metrics.jsonl", "tokenizer_config.json"):
        assert (out / kept).is_file(), kept
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert [s["prompt"] for s in samples] == ["I was", "The school", "Kiyo"]
    assert json.loads((out / "demo.json").read_text())["perplexity_after"] == pytest.approx(after, rel=1e-3)
    again = mf("generate", "--model", str(out), "--prompt", "I was", "--max-new-tokens", "5")
    assert again.returncode == 0 and again.stdout.startswith("I was"), again.stderr  # the kept model loads


def test_plugins_lists_core_and_gpt():
    result = mf("plugins")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mf-core" in result.stdout and "mf-gpt" in result.stdout
    assert "gpt2_13b" in result.stdout and "text_generation" in result.stdout


def test_convert_into_the_cache_then_load_the_preset(tmp_path):
    from mf import AutoConfig, AutoModel
    import mindspore as ms

    ms.set_seed(0)
    source = AutoModel.from_config(AutoConfig.from_pretrained("gpt2_tiny", hidden_dropout=0.0, embedding_dropout=0.0,
                                                              attention_dropout=0.0))
    source.save_pretrained(tmp_path / "hf", format="huggingface")
    result = mf("convert", str(tmp_path / "hf"), "gpt2_tiny", env={"MF_HOME": str(tmp_path / "home")})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "home" / "gpt2_tiny" / "model.safetensors").is_file()
    os.environ["MF_HOME"] = str(tmp_path / "home")  # the autouse fixture restores it
    model = AutoModel.from_pretrained("gpt2_tiny")
    ids = ms.Tensor(np.arange(10, dtype=np.int32).reshape(1, 10))
    model.set_train(False)
    source.set_train(False)
    np.testing.assert_array_equal(model(ids).asnumpy(), source(ids).asnumpy())


def test_convert_refuses_a_checkpoint_of_another_shape_than_the_preset(tmp_path):
    home = tmp_path / "home"
    wrong_size = mf("convert", str(HF_GPT2), "gpt2_tiny", env={"MF_HOME": str(home)})
    assert wrong_size.returncode == 1
    assert "does not have the shape of preset 'gpt2_tiny'" in wrong_size.stderr
    assert "vocab_size 1000 (checkpoint) vs 50257 (preset)" in wrong_size.stderr
    tiny_llama = ROOT / "plugins" / "mf-llama" / "tests" / "fixtures" / "tiny-llama-mha"
    as_7b = mf("convert", str(tiny_llama), "llama_7b", env={"MF_HOME": str(home)})
    assert as_7b.returncode == 1 and "hidden_size 64 (checkpoint) vs 4096 (preset)" in as_7b.stderr
    other_family = mf("convert", str(tiny_llama), "gpt2_tiny", env={"MF_HOME": str(home)})
    assert other_family.returncode == 1 and "is a llama model, but preset 'gpt2_tiny' is gpt2" in other_family.stderr
    assert not home.exists() or not any(home.iterdir())  # nothing written


def test_convert_error_is_one_clear_line(tmp_path):
    result = mf("convert", str(tmp_path / "missing"), str(tmp_path / "out"))
    assert result.returncode == 1
    assert result.stderr.strip().startswith("mf convert: error:") and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_plan_recommends_a_layout_for_llama_65b():
    result = mf("plan", "--model", "llama_65b", "--devices", "64", "--device-memory", "64GB", "--seq-length", "2048",
                "--global-batch", "1024")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "llama_65b: 65.29 B parameters; 64 devices x 64.0 GiB" in out
    assert "Recommended: data_parallel=" in out and "trainer.set_parallel_config(data_parallel=" in out
    assert "-- mf run --model_type llama_65b" in out and "mf launch --nproc 8 --nnodes 8" in out
    import json

    as_json = mf("plan", "--model", "llama_65b", "--devices", "64", "--device-memory", "64GB", "--seq-length",
                 "2048", "--global-batch", "1024", "--json")
    report = json.loads(as_json.stdout)
    recommended = report["recommended"]
    assert recommended["fits"] and recommended["total_memory"] <= 0.9 * 64 * 2 ** 30
    layout = recommended["layout"]
    assert layout["data_parallel"] * layout["model_parallel"] * layout["pipeline_stage"] == 64


def test_plan_says_when_nothing_fits_and_rejects_bad_sizes():
    result = mf("plan", "--model", "llama_65b", "--devices", "8", "--device-memory", "16GB", "--global-batch", "8")
    assert result.returncode == 1
    assert "No layout fits: the smallest needs" in result.stdout
    result = mf("plan", "--model", "llama_7b", "--devices", "8", "--device-memory", "lots", "--global-batch", "8")
    assert result.returncode != 0
    assert "--device-memory 'lots' is not a size; write it like 64GB" in result.stderr


def test_launch_worker_runs_any_interpreter_path_a_module_or_a_program(tmp_path):
    """What `mf launch -- CMD` runs in each process: an interpreter given by path (it failed with
    'source code string cannot contain null bytes'), `python -m module`, or another program."""
    script = tmp_path / "task.py"
    script.write_text("import sys\nprint('task ran with', sys.argv[1:])\n")
    (tmp_path / "hello_module.py").write_text("print('module ran')\n")
    program = tmp_path / "run.sh"
    program.write_text("#!/bin/sh\necho program ran \"$@\"\n")
    program.chmod(0o755)
    worker = [sys.executable, "-m", "mf.parallel.worker", str(tmp_path / "log")]
    env = {**os.environ, "RANK_ID": "0", "PYTHONPATH": str(tmp_path)}
    for command, expected in [([sys.executable, str(script), "--x", "1"], "task ran with ['--x', '1']"),
                              (["python3", str(script)], "task ran with []"),
                              ([sys.executable, "-m", "hello_module"], "module ran"),
                              ([str(program), "a"], "program ran a")]:
        result = subprocess.run(worker + command, capture_output=True, text=True, env=env, timeout=120)
        assert result.returncode == 0, result.stderr
        assert expected in result.stdout
        assert expected in (tmp_path / "log" / "rank_0" / "mindformer.log").read_text()


def test_a_second_mf_run_loads_its_graphs_and_trains_to_the_same_losses(tmp_path):
    """mf run turns the compile cache on: the second run of the same shapes loads the training step from the
    store, and with dropout on (gpt2_tiny: 0.1, keyed by step) its losses equal the first run's bit for bit."""
    store = tmp_path / "graphs"
    botchan = ROOT / "core" / "src" / "mf" / "data" / "texts" / "botchan.txt"
    losses, logs = [], []
    for name in ("first", "second"):
        result = mf("run", "--model_type", "gpt2_tiny", "--train_dataset", str(botchan), "--max_steps", "3",
                    "--per_device_train_batch_size", "2", "--seq_length", "32", "--logging_steps", "1",
                    "--output_dir", str(tmp_path / name),
                    env={"MF_COMPILE_CACHE": str(store)})
        assert result.returncode == 0, result.stderr[-3000:]
        logs.append(result.stderr)
        losses.append([json.loads(line)["loss"] for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()
                       if '"loss"' in line])
        if name == "first":
            stored = sorted(store.glob("*.mindir"))
            assert stored, "the first run stored no graph"
    assert sorted(store.glob("*.mindir")) == stored  # nothing compiled afresh
    assert "Use the compilation cache" not in logs[0] and "Use the compilation cache" in logs[1]
    assert len(losses[0]) == 3 and losses[0] == losses[1]
