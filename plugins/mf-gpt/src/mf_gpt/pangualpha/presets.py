"""PanGu-Alpha presets: the tutorial's sizes, plus a tiny one on the stand-in tokenizer for tests and demos."""

PANGUALPHA_PRESETS = {
    "pangualpha_2_6b": ("PanGu-Alpha 2.6B (MindFormers' pangualpha_2_6b)",
                        dict(vocab_size=40000, seq_length=1024, hidden_size=2560, num_layers=32, num_heads=32)),
    "pangualpha_13b": ("PanGu-Alpha 13B (MindFormers' pangualpha_13b)",
                       dict(vocab_size=40000, seq_length=1024, hidden_size=5120, num_layers=40, num_heads=40)),
    "pangualpha_tiny": ("a 3-layer, 64-wide PanGu-Alpha on the bundled stand-in tokenizer, for tests and demos",
                        dict(vocab_size=12000, seq_length=256, hidden_size=64, num_layers=3, num_heads=4,
                             embedding_dropout_prob=0.0, hidden_dropout_rate=0.0, attention_dropout_rate=0.0)),
}

_WEIGHTS_NOTE = ("PanGu-Alpha's weights are not on the Hugging Face Hub as safetensors: a folder holding MindFormers' "
                 "merged checkpoint (.ckpt) or safetensors in either naming, with a config.json, loads directly; "
                 "the Hugging Face port's PyTorch .bin files must be saved as safetensors once (mf never unpickles)")
PANGUALPHA_WEIGHTS = {
    "pangualpha_2_6b": {"weights_note": _WEIGHTS_NOTE},
    "pangualpha_13b": {"weights_note": _WEIGHTS_NOTE},
    "pangualpha_tiny": {"weights_note": "pangualpha_tiny is a test size; train it (mf run) or use random weights"},
}
