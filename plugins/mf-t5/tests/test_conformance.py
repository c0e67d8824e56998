"""mf-t5 against the plugin contract (mf.testing)."""
from mf.testing import FamilyConformance


class TestT5Conformance(FamilyConformance):
    distribution = "mf-t5"
    presets = ["t5_tiny"]
