"""GLM presets: GLM-6B (ChatGLM-6B's shape), its chat and LoRA variants, and a tiny size for tests."""

GLM_6B = dict(vocab_size=130528, hidden_size=4096, inner_hidden_size=16384, num_layers=28, num_heads=32,
              seq_length=2048)

GLM_PRESETS = {
    "glm_6b": ("GLM-6B (the ChatGLM-6B architecture)", GLM_6B),
    "glm_6b_chat": ("ChatGLM-6B, the dialogue-tuned GLM-6B (use model.chat / stream_chat)", GLM_6B),
    "glm_tiny": ("a 2-layer, 64-wide GLM on the bundled stand-in tokenizer, for tests and demos",
                 dict(vocab_size=28000, hidden_size=64, inner_hidden_size=256, num_layers=2, num_heads=4,
                      seq_length=512, bos_token_id=20089, eos_token_id=20090, pad_token_id=20003,
                      mask_token_id=20085, gmask_token_id=20086)),
}

# MindFormers' glm_6b_lora: rank 8, alpha 32, dropout 0.1 on the fused query_key_value projection
GLM_LORA_PRESETS = {
    "glm_6b_lora": ("glm_6b", dict(r=8, lora_alpha=32, lora_dropout=0.1, target_modules=["query_key_value"])),
}

_NO_SAFETENSORS = ("THUDM/chatglm-6b publishes PyTorch .bin shards and mf never unpickles: convert them to "
                   "safetensors once and pass the folder")
GLM_WEIGHTS = {
    "glm_6b": {"weights_note": _NO_SAFETENSORS},
    "glm_6b_chat": {"weights_note": _NO_SAFETENSORS},
    "glm_tiny": {"weights_note": "glm_tiny is a test size; train it (mf run) or use random weights"},
}
