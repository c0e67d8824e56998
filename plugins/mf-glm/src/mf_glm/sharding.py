"""How GLM splits over model_parallel ranks (Megatron's layout). query_key_value is laid out per head, so a
contiguous block of its rows is whole heads with their q, k and v: a plain column split."""
from mf.parallel.tensor_parallel import ShardingPlan

GLM_SHARDING = ShardingPlan(
    column=["attention.query_key_value", "mlp.dense_h_to_4h"],
    row=["attention.dense", "mlp.dense_4h_to_h"],
    vocab=["word_embeddings", "lm_head"],
    divide={"attention": ["num_heads"]},
    divisible=["num_heads", "inner_hidden_size"],
)
