"""Parallel layouts are checked against the processes, the model and the batch, naming the rule."""
import pytest

from mf.config import PretrainedConfig
from mf.parallel import ParallelConfig
from mf.parallel.distributed import ParallelError, Topology
from mf.parallel.tensor_parallel import ShardingPlan, column_rows, split_range
from mf.parallel.validation import validate_parallel


class Shape(PretrainedConfig):
    model_type = "shape_test"
    num_heads: int = 12
    num_layers: int = 4
    vocab_size: int = 1000


PLAN = ShardingPlan(column=["q"], divisible=["num_heads"])


@pytest.mark.parametrize("layout, world, batch, message", [
    (dict(data_parallel=2, model_parallel=2), 8, 4, r"data_parallel \(2\) x model_parallel \(2\) x pipeline_stage \(1\) = 4, but 8 processes"),
    (dict(model_parallel=5), 5, 4, r"model_parallel=5 must divide num_heads \(12\)"),
    (dict(pipeline_stage=8), 8, 8, r"pipeline_stage \(8\) is larger than the model's 4 layers"),
    (dict(pipeline_stage=2, micro_batch_num=3), 2, 4, r"divisible by data_parallel x micro_batch_num \(1 x 3\)"),
    (dict(micro_batch_num=2), 1, 4, r"micro_batch_num=2 only applies to pipeline parallelism"),
    (dict(optimizer_shard=True, model_parallel=2), 2, 4, r"optimizer_shard splits .* data_parallel is 1"),
    (dict(model_parallel=2, pipeline_stage=2), 4, 4, r"pipeline_stage > 1 together with model_parallel > 1"),
])
def test_bad_layouts_name_the_rule(layout, world, batch, message):
    with pytest.raises(ParallelError, match=message):
        validate_parallel(ParallelConfig(**layout), world, Shape(), PLAN, batch)


def test_good_layout_passes():
    validate_parallel(ParallelConfig(data_parallel=2, pipeline_stage=2, micro_batch_num=2), 4, Shape(), PLAN, 4)
    validate_parallel(ParallelConfig(data_parallel=2, model_parallel=2, optimizer_shard=True), 4, Shape(), PLAN, 4,
                      accumulation=2)


def test_topology_places_ranks_model_parallel_fastest():
    topology = Topology(dp=2, mp=2, pp=2, rank=5)
    assert (topology.pp_rank, topology.dp_rank, topology.mp_rank) == (1, 0, 1)
    assert topology.mp_ranks() == [4, 5]
    assert topology.dp_ranks() == [5, 7]
    assert topology.pp_ranks() == [1, 5]


def test_splits():
    assert split_range(10, 0, 3) == (0, 3) and split_range(10, 2, 3) == (7, 10)
    # fused q/k/v rows of 2 heads x 2 features: rank 1 keeps the second head of each
    assert column_rows(12, 1, 2, blocks=3).tolist() == [2, 3, 6, 7, 10, 11]
