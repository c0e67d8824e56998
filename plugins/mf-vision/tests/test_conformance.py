"""mf-vision's families against the plugin contract (mf.testing)."""
from mf.testing import FamilyConformance


class TestVisionConformance(FamilyConformance):
    distribution = "mf-vision"
    presets = ["vit_tiny", "dinov2_tiny", "swin_tiny", "mae_tiny", "clip_tiny"]
