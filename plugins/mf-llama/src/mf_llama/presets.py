"""LLaMA presets: the published shapes, a LoRA preset, and a tiny size for tests."""

LLAMA_PRESETS = {
    "llama_7b": ("LLaMA 7B", dict(hidden_size=4096, intermediate_size=11008, num_layers=32, num_heads=32)),
    "llama_13b": ("LLaMA 13B", dict(hidden_size=5120, intermediate_size=13824, num_layers=40, num_heads=40)),
    "llama_65b": ("LLaMA 65B", dict(hidden_size=8192, intermediate_size=22016, num_layers=80, num_heads=64)),
    "llama_tiny": ("a 2-layer, 64-wide LLaMA with grouped-query attention, for tests and demos",
                   dict(hidden_size=64, intermediate_size=176, num_layers=2, num_heads=4, n_kv_heads=2,
                        seq_length=256)),
}

LLAMA_LORA_PRESETS = {
    "llama_7b_lora": ("llama_7b", dict(r=8, lora_alpha=16, lora_dropout=0.05,
                                       target_modules=["wq", "wk", "wv", "wo"])),
}

# where each preset's weights are published (safetensors on the Hugging Face Hub), or why none are
LLAMA_WEIGHTS = {
    "llama_7b": {"hub_repo": "huggyllama/llama-7b"},
    "llama_13b": {"hub_repo": "huggyllama/llama-13b"},
    "llama_65b": {"hub_repo": "huggyllama/llama-65b"},
    "llama_tiny": {"weights_note": "llama_tiny is a test size; train it (mf run) or use random weights"},
}
