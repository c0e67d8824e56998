"""mf-gpt against the plugin contract (mf.testing)."""
from mf.testing import FamilyConformance


class TestGPT2Conformance(FamilyConformance):
    distribution = "mf-gpt"
    presets = ["gpt2_tiny"]
