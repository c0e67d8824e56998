"""How LLaMA splits over model_parallel ranks (Megatron's layout)."""
from mf.parallel.tensor_parallel import ShardingPlan

LLAMA_SHARDING = ShardingPlan(
    column=["attention.wq", "attention.wk", "attention.wv", "feed_forward.w1", "feed_forward.w3"],
    row=["attention.wo", "feed_forward.w2"],
    vocab=["tok_embeddings", "lm_head"],
    divide={"attention": ["num_heads", "kv_heads"]},
    divisible=["num_heads", "kv_heads", "intermediate_size"],
)
