"""mf plan's arithmetic on small cases worked out by hand, and its search over layouts."""
import pytest

from mf.config import PretrainedConfig
from mf.parallel.plan import Hardware, Layout, estimate, layer_activation_elements, plan
from mf.parallel.shape import TransformerShape
from mf.parallel.tensor_parallel import ShardingPlan

# GPT-2-like: vocabulary 10, width 4, 2 layers of 2 heads of 2, MLP width 8, 3 learned positions, tied
TOY = TransformerShape(vocab_size=10, hidden_size=4, num_layers=2, num_heads=2, kv_heads=2, head_dim=2,
                       ffn_hidden_size=8, gated_mlp=False, attention_bias=True, mlp_bias=True, norm_bias=True,
                       learned_positions=3, rotary=False, tied_embeddings=True)
BIG_DEVICE = Hardware(devices=2, device_memory=1e9)


def test_parameter_counts():
    # q/k/v 4x12 + 12, output 4x4 + 4, up 4x8 + 8, down 8x4 + 4, two LayerNorms 2 x 8
    assert TOY.layer_parameters() == 60 + 20 + 40 + 36 + 16 == 172
    # split over 2: matrices halve (128 -> 64), q/k/v and up biases halve (12 + 8 -> 10), the
    # output and down biases (4 + 4) and the norms (16) stay whole
    assert TOY.layer_parameters(model_parallel=2) == 64 + 10 + 8 + 16 == 98
    assert TOY.embedding_parameters() == (10 + 3) * 4 == 52
    assert TOY.embedding_parameters(model_parallel=3) == (4 + 3) * 4  # the largest vocabulary slice: 4 rows
    assert TOY.parameters() == 52 + 2 * 172 + 8 == 404


def test_data_parallel_with_optimizer_shard():
    # global batch 4 over dp=2: 2 sequences of 3 tokens per rank
    e = estimate(TOY, Layout(data_parallel=2, optimizer_shard=True), BIG_DEVICE, seq_length=3, global_batch=4)
    assert e.micro_batch_size == 2 and e.parameters == 404
    assert e.memory["weights"] == 404 * 4 and e.memory["gradients"] == 404 * 4
    assert e.memory["optimizer"] == 404 * 8 / 2  # AdamW's two moments, half on each rank
    assert e.memory["temporaries"] == 2 * 404 * 4  # clipped gradients and the update's scratch
    # per token: a block keeps 4h (norms) + 12 (q, k, v) + 4 (attention output) + 2 x 8 (MLP) = 48;
    # the head 2h + 2 x vocabulary = 28
    assert layer_activation_elements(TOY, 3) == 48
    assert e.activations_without_recompute == (2 * 48 + 28) * 6 * 4
    # recompute keeps each block's input (h) and rebuilds one block at a time once the logits are gone
    assert e.activations_with_recompute == (2 * 4 + max(48, 28)) * 6 * 4
    assert e.memory["activations"] == e.activations_without_recompute
    assert e.total_memory == 3 * 1616 + 2 * 1616 + 2976


def test_attention_dropout_counts_the_unfused_score_tensors():
    from dataclasses import replace

    dropped = replace(TOY, attention_dropout=0.1)
    assert layer_activation_elements(dropped, 3) == 48 + 12 * 2 * 3  # 12 copies of [heads, keys] per token


def test_compute_and_communication():
    e = estimate(TOY, Layout(), Hardware(devices=1, device_memory=1e9, tflops=1e-9), seq_length=3, global_batch=4)
    # per token and layer: 2 x 156 weights in products + 2 x 3 keys x 4 query features (the
    # visible half of q.k and p.v); the head 2 x 10 x 4; 12 tokens, forward + backward = 3x
    assert e.flops == 12 * 2 * (2 * 156 + 24) * 3 + 12 * 80 * 3 == 27072
    assert e.compute_s == pytest.approx(27072 / 1e3)
    assert e.communication == 0
    recomputed = estimate(TOY, Layout(recompute=True), Hardware(devices=1, device_memory=1e9), 3, 4)
    assert recomputed.flops == 12 * 2 * 336 * 4 + 12 * 80 * 3  # one more forward of the blocks
    dp = estimate(TOY, Layout(data_parallel=2), Hardware(devices=2, device_memory=1e9), 3, 4)
    assert dp.communication == 2 * (2 - 1) / 2 * 404 * 4  # a ring AllReduce of the gradients


def test_pipeline_stages():
    # 2 stages of one block, 2 micro-batches of 2 sequences; the last stage holds the final norm and
    # a copy of the tied embedding, and every stage keeps the whole model's weights (as mf does)
    e = estimate(TOY, Layout(pipeline_stage=2, micro_batch_num=2), BIG_DEVICE, seq_length=3, global_batch=4)
    assert e.parameters == 172 + 8 + 40 == 220
    assert e.memory["weights"] == 404 * 4 and e.memory["gradients"] == 220 * 4
    # kept stage inputs: h x 6 tokens x 2 micro-batches; one micro-batch's block; the head
    assert e.activations_without_recompute == (48 + 48 * 6 + 28 * 6) * 4
    assert e.bubble == pytest.approx(1 / 3)
    assert e.total_memory == 1616 + 880 + 1760 + 2 * 880 + 2016


class ToyConfig(PretrainedConfig):
    model_type = "toy_plan"
    num_heads: int = 2
    num_layers: int = 2
    vocab_size: int = 10


def test_search_recommends_the_fastest_layout_that_fits():
    sharding = ShardingPlan(column=["q"], divisible=["num_heads"])
    result = plan(TOY, ToyConfig(), sharding, Hardware(devices=4, device_memory=1e9), seq_length=3, global_batch=8)
    layouts = {e.layout for e in result.estimates}
    # 4 devices: mp must divide 2 heads and pp * mp (both > 1) is not run by mf
    assert all(l.model_parallel in (1, 2) for l in layouts)
    assert not any(l.model_parallel > 1 and l.pipeline_stage > 1 for l in layouts)
    assert Layout(4, 1, 1, 1, False, False) in layouts and Layout(2, 2, 1, 2, True, True) in layouts
    fitting = [e for e in result.estimates if e.fits]
    assert result.recommended is fitting[0]
    assert result.recommended.step_s == min(e.step_s for e in fitting)


def test_nothing_fits_in_a_tiny_device():
    sharding = ShardingPlan(column=["q"], divisible=["num_heads"])
    result = plan(TOY, ToyConfig(), sharding, Hardware(devices=2, device_memory=1000), seq_length=3, global_batch=4)
    assert result.recommended is None and not any(e.fits for e in result.estimates)
