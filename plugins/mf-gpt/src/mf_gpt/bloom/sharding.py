"""How BLOOM splits over model_parallel ranks (Megatron's layout). query_key_value is laid out per head, so a
contiguous block of its rows is whole heads with their q, k and v: a plain column split; each rank keeps its
heads' ALiBi slopes."""
from mf.parallel.tensor_parallel import ShardingPlan

BLOOM_SHARDING = ShardingPlan(
    column=["self_attention.query_key_value", "mlp.dense_h_to_4h"],
    row=["self_attention.dense", "mlp.dense_4h_to_h"],
    vocab=["word_embeddings"],              # tied: the LM head uses the split embedding too
    divide={"self_attention": ["num_heads"]},
    head_tensors=["alibi_slopes"],
    divisible=["num_heads", "ffn_hidden_size"],
)
