"""mf-llama against the plugin contract (mf.testing)."""
from mf.testing import FamilyConformance


class TestLlamaConformance(FamilyConformance):
    distribution = "mf-llama"
    presets = ["llama_tiny"]
