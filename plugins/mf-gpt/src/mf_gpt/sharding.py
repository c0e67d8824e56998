"""How GPT-2 splits over model_parallel ranks (Megatron's layout)."""
from mf.parallel.tensor_parallel import ShardingPlan

GPT2_SHARDING = ShardingPlan(
    column=["attn.c_attn", "mlp.c_fc"],      # q/k/v heads and the MLP's inner features
    row=["attn.c_proj", "mlp.c_proj"],
    vocab=["wte"],                           # tied: the LM head uses the split embedding too
    fused={"attn.c_attn": 3},                # c_attn stacks q, k and v: each is split by heads
    divide={"attn": ["num_heads", "hidden_size"]},
    divisible=["num_heads", "ffn_hidden_size"],
)
