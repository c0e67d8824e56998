"""mf-glm against the plugin contract (mf.testing)."""
from mf.testing import FamilyConformance


class TestGLMConformance(FamilyConformance):
    distribution = "mf-glm"
    presets = ["glm_tiny"]
