"""BLOOM presets: the tutorial's sizes (BigScience's published shapes), plus a tiny one for tests and demos."""

BLOOM_PRESETS = {
    # name: (description, config fields)
    "bloom_560m": ("BLOOM 560M (bigscience/bloom-560m)",
                   dict(vocab_size=250880, hidden_size=1024, num_layers=24, num_heads=16)),
    "bloom_7.1b": ("BLOOM 7.1B (bigscience/bloom-7b1)",
                   dict(vocab_size=250880, hidden_size=4096, num_layers=30, num_heads=32)),
    "bloom_65b": ("BLOOM 65B (MindFormers' bloom_65b shape)",
                  dict(vocab_size=250880, hidden_size=8192, num_layers=70, num_heads=64)),
    "bloom_176b": ("BLOOM 176B (bigscience/bloom)",
                   dict(vocab_size=250880, hidden_size=14336, num_layers=70, num_heads=112)),
    "bloom_tiny": ("a 2-layer, 64-wide BLOOM with 6 heads on the bundled stand-in tokenizer, for tests and demos",
                   dict(vocab_size=6000, hidden_size=96, num_layers=2, num_heads=6, seq_length=512)),
}

BLOOM_LORA_PRESETS = {
    "bloom_560m_lora": ("bloom_560m", dict(r=8, lora_alpha=16, lora_dropout=0.05,
                                           target_modules=["query_key_value"])),
}

_REAL_TOKENIZER = ("; the bundled tokenizer is a 6000-token stand-in: load the checkpoint folder (with its "
                   "tokenizer.json) for BLOOM's own")
BLOOM_WEIGHTS = {
    "bloom_560m": {"hub_repo": "bigscience/bloom-560m"},
    "bloom_7.1b": {"hub_repo": "bigscience/bloom-7b1"},
    "bloom_65b": {"weights_note": "MindFormers' bloom_65b checkpoint is not published on the Hugging Face Hub"},
    "bloom_176b": {"hub_repo": "bigscience/bloom"},
    "bloom_tiny": {"weights_note": "bloom_tiny is a test size; train it (mf run) or use random weights"},
}
