"""How PanGu-Alpha splits over model_parallel ranks (Megatron's layout; the top query layer alike)."""
from mf.parallel.tensor_parallel import ShardingPlan

PANGUALPHA_SHARDING = ShardingPlan(
    column=["attn.q_proj", "attn.k_proj", "attn.v_proj", "mlp.c_fc"],
    row=["attn.c_proj", "mlp.c_proj"],
    vocab=["wte", "lm_head"],                # tied: the head uses the split embedding too
    divide={"attn": ["num_heads"]},
    divisible=["num_heads", "inner_size"],
)
