"""GPT-2 presets: the published shapes, plus tiny sizes for tests and demos."""

GPT2_PRESETS = {
    # name: (description, config fields)
    "gpt2": ("GPT-2 small, 124M parameters",
             dict(hidden_size=768, num_layers=12, num_heads=12, seq_length=1024)),
    "gpt2_13b": ("GPT-2 13B (MindFormers' gpt2_13b shape)",
                 dict(hidden_size=5120, num_layers=40, num_heads=40, seq_length=2048)),
    "gpt2_52b": ("GPT-2 52B (MindFormers' gpt2_52b shape)",
                 dict(hidden_size=8192, num_layers=64, num_heads=64, seq_length=2048)),
    "gpt2_small": ("GPT-2 small, 124M parameters (the tutorial's name for gpt2)",
                   dict(hidden_size=768, num_layers=12, num_heads=12, seq_length=1024)),
    "gpt2_tiny": ("a 2-layer, 64-wide GPT-2 with the real vocabulary, for tests and demos",
                  dict(hidden_size=64, num_layers=2, num_heads=4, seq_length=256)),
}

# LoRA presets: a base preset's shape and weights, with the adapter settings the Trainer applies.
GPT2_LORA_PRESETS = {
    "gpt2_lora": ("gpt2", dict(r=8, lora_alpha=16, lora_dropout=0.05, target_modules=["c_attn", "attn.c_proj"])),
}

# where each preset's weights are published (safetensors on the Hugging Face Hub), or why none are
GPT2_WEIGHTS = {
    "gpt2": {"hub_repo": "openai-community/gpt2"},
    "gpt2_small": {"hub_repo": "openai-community/gpt2"},
    "gpt2_13b": {"weights_note": "MindFormers' gpt2_13b checkpoint is not published on the Hugging Face Hub"},
    "gpt2_52b": {"weights_note": "MindFormers' gpt2_52b checkpoint is not published on the Hugging Face Hub"},
    "gpt2_tiny": {"weights_note": "gpt2_tiny is a test size; train it (mf run) or use random weights"},
}
