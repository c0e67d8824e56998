"""Distributed training with real processes started by `mf launch` (MindSpore's msrun) on this machine.

Each multi-process run compares against the same training in one process. Adam divides by the
root of tiny second moments, which turns 1e-8 differences in summation order into 1e-5
differences in the weights, so runs that split sums across ranks (model and pipeline parallel)
compare with SGD; data parallel and optimizer sharding compare with AdamW.
"""
import itertools
import re
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mf.weights import load_state_dict

HERE = Path(__file__).parent / "parallel"
PORTS = itertools.count(8200 + (os.getpid() % 200) * 5)


def launch(tmp_path, nproc, *command, expect_ok=True):
    log_dir = tmp_path / f"log{next(PORTS)}"
    result = subprocess.run([sys.executable, "-m", "mf.cli", "launch", "--nproc", str(nproc), "--master_port",
                             str(next(PORTS)), "--log_dir", str(log_dir), "--", *command],
                            capture_output=True, text=True, timeout=900)
    logs = "".join(p.read_text(errors="replace")[-3000:] for p in sorted(log_dir.glob("rank_*/mindformer.log")))
    if expect_ok:
        assert result.returncode == 0, logs or result.stderr[-3000:]
    return result, log_dir, logs


def reference(tmp_path, family, optim):
    out = tmp_path / f"ref-{family}-{optim}"
    result = subprocess.run([sys.executable, str(HERE / "train_compare.py"), str(out), family, "1", "1", "1", "0",
                             optim], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def compare(reference_dir, parallel_dir, tolerance=1e-5):
    ref_losses = json.loads((reference_dir / "losses.json").read_text())
    losses = json.loads((parallel_dir / "losses.json").read_text())
    assert len(losses) == len(ref_losses) == 3
    np.testing.assert_allclose(losses, ref_losses, atol=tolerance, rtol=0)
    expected, _ = load_state_dict(reference_dir)
    got, _ = load_state_dict(parallel_dir)
    assert set(got) == set(expected)
    worst = max(float(np.abs(got[k] - expected[k]).max()) for k in expected)
    assert worst < tolerance, worst


def run_layout(tmp_path, nproc, name, family, dp, mp, pp, shard, optim):
    out = tmp_path / name
    launch(tmp_path, nproc, "python", str(HERE / "train_compare.py"), str(out), family, str(dp), str(mp), str(pp),
           "1" if shard else "0", optim)
    return out


@pytest.mark.slow
def test_data_parallel_and_optimizer_shard_equal_one_process(tmp_path):
    ref = reference(tmp_path, "gpt2", "adamw")
    compare(ref, run_layout(tmp_path, 2, "dp2", "gpt2", 2, 1, 1, False, "adamw"))
    sharded = run_layout(tmp_path, 2, "zero", "gpt2", 2, 1, 1, True, "adamw")
    compare(ref, sharded)
    # each rank keeps Adam's moments for half of every parameter
    from safetensors.numpy import load_file

    states = [load_file(str(p)) for p in sorted((sharded / "checkpoint-3").glob("optimizer*.safetensors"))]
    assert len(states) == 2
    moments = [sum(v.size for k, v in s.items() if ".moment1." in k or ".moment2." in k) for s in states]
    params = sum(v.size for v in load_state_dict(ref)[0].values())
    assert all(abs(m - params) <= 2 * 2 * len(load_state_dict(ref)[0]) for m in moments), (moments, params)


@pytest.mark.slow
def test_bert_token_classification_data_parallel_and_optimizer_shard_equal_one_process(tmp_path):
    """BERT's parallel modes in the tutorial's table: the encoder task's loss is the global mean over
    labelled tokens however the ranks' rows are labelled."""
    ref = reference(tmp_path, "bert", "adamw")
    compare(ref, run_layout(tmp_path, 2, "dp2", "bert", 2, 1, 1, False, "adamw"))
    compare(ref, run_layout(tmp_path, 2, "zero", "bert", 2, 1, 1, True, "adamw"))


@pytest.mark.slow
def test_vit_image_classification_data_parallel_and_optimizer_shard_equal_one_process(tmp_path):
    """ViT's parallel modes in the tutorial's table (data parallel, optimizer shard), augmentation on: the
    global batch is augmented from the step's generator before its rows are split across ranks."""
    ref = reference(tmp_path, "vit", "adamw")
    compare(ref, run_layout(tmp_path, 2, "dp2", "vit", 2, 1, 1, False, "adamw"))
    compare(ref, run_layout(tmp_path, 2, "zero", "vit", 2, 1, 1, True, "adamw"))


@pytest.mark.slow
def test_clip_contrastive_and_mae_pretraining_data_parallel_equal_one_process(tmp_path):
    """CLIP's loss is the InfoNCE of the global batch: each rank gathers every rank's vectors, so dp=2 trains
    as one process (SGD, as the issue asks; the weights within 1e-5). MAE's masks are drawn for the global
    batch before it is split."""
    for family in ("clip", "mae"):
        ref = reference(tmp_path, family, "sgd")
        compare(ref, run_layout(tmp_path, 2, f"dp2-{family}", family, 2, 1, 1, False, "sgd"))


@pytest.mark.slow
def test_t5_translation_data_parallel_and_optimizer_shard_equal_one_process(tmp_path):
    """T5's parallel modes in the tutorial's table (data parallel, optimizer shard): the encoder-decoder's
    loss is the global mean over labelled target tokens, however many each rank holds. SGD: T5's relative
    position biases get gradients small enough that Adam turns summation-order differences into 1e-5 (ZeRO,
    which is AdamW only, is held to 2e-5)."""
    ref = reference(tmp_path, "t5", "sgd")
    compare(ref, run_layout(tmp_path, 2, "dp2", "t5", 2, 1, 1, False, "sgd"))
    ref = reference(tmp_path, "t5", "adamw")
    compare(ref, run_layout(tmp_path, 2, "zero", "t5", 2, 1, 1, True, "adamw"), tolerance=2e-5)


@pytest.mark.slow
@pytest.mark.parametrize("family", ["bloom", "pangualpha"])
def test_bloom_and_pangualpha_model_and_pipeline_parallel_equal_one_process(tmp_path, family):
    """BLOOM (ALiBi slopes split with the heads) and PanGu-Alpha (the top query layer on the last stage) under
    their sharding plans: model parallel 2 and pipeline parallel 2 train as one process (SGD)."""
    ref = reference(tmp_path, family, "sgd")
    compare(ref, run_layout(tmp_path, 2, "mp2", family, 1, 2, 1, False, "sgd"))
    compare(ref, run_layout(tmp_path, 2, "pp2", family, 1, 1, 2, False, "sgd"))


@pytest.mark.slow
@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_model_parallel_logits_and_gradients_equal_one_process(tmp_path, family):
    out = tmp_path / "tp.json"
    # an interpreter path (not the word `python`) works as the command, as any other Python would
    launch(tmp_path, 2, sys.executable, str(HERE / "tensor_parallel_check.py"), str(out), family)
    result = json.loads(out.read_text())
    assert result["sharded_params"] > 0
    assert result["logits"] < 1e-5 and result["grads"] < 1e-5 and result["loss"] < 1e-5


@pytest.mark.slow
def test_glm_data_model_and_pipeline_parallel_equal_one_process(tmp_path):
    """GLM (2-D positions, prefix-LM mask, alpha residuals, per-head fused query_key_value) under its sharding plan."""
    ref = reference(tmp_path, "glm", "sgd")
    compare(ref, run_layout(tmp_path, 2, "mp2", "glm", 1, 2, 1, False, "sgd"))
    compare(ref, run_layout(tmp_path, 2, "dp2", "glm", 2, 1, 1, False, "sgd"))
    compare(ref, run_layout(tmp_path, 2, "pp2", "glm", 1, 1, 2, False, "sgd"))


@pytest.mark.slow
def test_pipeline_with_micro_batches_equals_one_process(tmp_path):
    compare(reference(tmp_path, "gpt2", "sgd"), run_layout(tmp_path, 2, "pp2", "gpt2", 1, 1, 2, False, "sgd"))


@pytest.mark.slow
def test_data_times_model_parallel_on_four_processes(tmp_path):
    compare(reference(tmp_path, "llama", "sgd"), run_layout(tmp_path, 4, "dp2mp2", "llama", 2, 2, 1, False, "sgd"))


@pytest.mark.slow
def test_tutorial_flow_through_mf_launch_and_a_model_parallel_checkpoint(tmp_path):
    """`mf launch --nproc 2 -- mf run ... --use_parallel True --model_parallel 2`; the checkpoint it
    writes loads in one process and gives the run's logits."""
    import mindspore as ms

    from mf import AutoConfig, AutoModel, AutoTokenizer

    ms.set_seed(0)
    base = tmp_path / "base"
    AutoModel.from_config(AutoConfig.from_pretrained(
        "gpt2_tiny", hidden_dropout=0.0, embedding_dropout=0.0, attention_dropout=0.0, seq_length=64)
    ).save_pretrained(base)
    AutoTokenizer.from_pretrained("gpt2").save_pretrained(base)
    text = tmp_path / "train.txt"
    text.write_text("The quick brown fox jumps over the lazy dog. " * 300)
    common = ["mf", "run", "--task", "text_generation", "--model_type", str(base), "--run_mode", "finetune",
              "--train_dataset", str(text), "--seq_length", "32", "--max_steps", "2", "--logging_steps", "1",
              "--use_parallel", "True"]
    _, log_dir, logs = launch(tmp_path, 2, *common, "--batch_size", "2", "--model_parallel", "2",
                              "--output_dir", str(tmp_path / "mp"))
    assert (log_dir / "rank_0" / "mindformer.log").is_file() and (log_dir / "rank_1" / "mindformer.log").is_file()
    checkpoint = tmp_path / "mp" / "checkpoint-2"
    model = AutoModel.from_pretrained(str(checkpoint))
    assert model.transformer.wte.weight.shape == (50257, 64)  # whole, not a slice
    loss = json.loads((tmp_path / "mp" / "metrics.jsonl").read_text().splitlines()[-1])["loss"]
    assert np.isfinite(loss)
    launch(tmp_path, 2, *common, "--batch_size", "1", "--data_parallel", "2", "--output_dir", str(tmp_path / "dp"))
    launch(tmp_path, 2, *common, "--batch_size", "2", "--pipeline_parallel", "2", "--micro_size", "2",
           "--output_dir", str(tmp_path / "pp"))
    for name in ("dp", "pp"):
        assert (tmp_path / name / "checkpoint-2" / "model.safetensors").is_file()


@pytest.mark.slow
def test_bad_layouts_are_rejected_before_any_work(tmp_path):
    text = tmp_path / "train.txt"
    text.write_text("hello world " * 500)
    base = ["mf", "run", "--model_type", "gpt2_tiny", "--train_dataset", str(text), "--seq_length", "16",
            "--max_steps", "1", "--use_parallel", "True", "--output_dir", str(tmp_path / "o")]
    result, _, logs = launch(tmp_path, 2, *base, "--pipeline_parallel", "2", "--micro_size", "3",
                             "--batch_size", "4", expect_ok=False)
    assert result.returncode != 0
    assert "must be divisible by data_parallel x micro_batch_num (1 x 3)" in logs
    assert not (tmp_path / "o" / "metrics.jsonl").exists()
    # the console says which rank failed, with its mf error and the end of its log; no MindSpore noise
    assert re.search(r"mf launch: rank \d failed: mf run: error: .*must be divisible by data_parallel", result.stderr)
    assert "--- the end of " in result.stderr and "--verbose" in result.stderr
    console = result.stdout + result.stderr
    assert "[WARNING] ME(" not in console and "Traceback" not in console and "C++ Call Stack" not in console


@pytest.mark.slow
def test_two_nodes_on_this_machine_train_together_like_one_process(tmp_path):
    """`mf launch --nnodes 2 --node_rank K --master_addr 127.0.0.1`, one process per node: data parallel
    across the two "nodes" equals one process on the same global batch."""
    ref = reference(tmp_path, "gpt2", "adamw")
    out, port = tmp_path / "two-nodes", str(next(PORTS))
    nodes = [subprocess.Popen([sys.executable, "-m", "mf.cli", "launch", "--nproc", "1", "--nnodes", "2",
                               "--node_rank", str(rank), "--master_addr", "127.0.0.1", "--master_port", port,
                               "--log_dir", str(tmp_path / f"node{rank}"), "--", sys.executable,
                               str(HERE / "train_compare.py"), str(out), "gpt2", "2", "1", "1", "0", "adamw"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for rank in (0, 1)]
    outputs = [node.communicate(timeout=900)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs
    assert (tmp_path / "node1" / "rank_1" / "mindformer.log").is_file()  # node 1 ran global rank 1
    compare(ref, out)
