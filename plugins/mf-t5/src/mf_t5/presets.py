"""T5 presets: the tutorial's t5_small, the other published sizes, and a tiny size for tests."""

_V1_0 = dict(feed_forward_proj="relu", tie_word_embeddings=True, vocab_size=32128)
_V1_1 = dict(feed_forward_proj="gated-gelu", tie_word_embeddings=False, vocab_size=32128, dropout_rate=0.0)

T5_PRESETS = {
    # name: (description, task, config fields, Hub repository)
    "t5_small": ("T5 v1.0 small, 60M parameters (translation, text-to-text)", "translation",
                 dict(_V1_0, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_heads=8), "google-t5/t5-small"),
    "t5_base": ("T5 v1.0 base, 220M parameters", "translation",
                dict(_V1_0, d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12), "google-t5/t5-base"),
    "t5_v1_1_small": ("T5 v1.1 small (gated GELU, untied head), 77M parameters; pre-trained only",
                      "text2text_generation",
                      dict(_V1_1, d_model=512, d_kv=64, d_ff=1024, num_layers=8, num_heads=6),
                      "google/t5-v1_1-small"),
    "t5_tiny": ("a 2-layer, 64-wide T5 v1.0 with mf-t5's bundled 8100-token vocabulary, for tests and demos",
                "translation",
                dict(feed_forward_proj="relu", tie_word_embeddings=True, vocab_size=8100, d_model=64, d_kv=16,
                     d_ff=128, num_layers=2, num_heads=4, relative_attention_num_buckets=16,
                     relative_attention_max_distance=64, dropout_rate=0.0), None),
}
