"""mf-bert against the plugin contract (mf.testing)."""
from mf.testing import FamilyConformance


class TestBertConformance(FamilyConformance):
    distribution = "mf-bert"
    presets = ["bert_tiny"]
