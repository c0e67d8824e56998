"""mf-gpt against the plugin contract (mf.testing): GPT-2, BLOOM and PanGu-Alpha."""
from mf.testing import FamilyConformance


class TestGPTFamiliesConformance(FamilyConformance):
    distribution = "mf-gpt"
    presets = ["gpt2_tiny", "bloom_tiny", "pangualpha_tiny"]
