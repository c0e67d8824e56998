"""mf-vision: image models for mf (ViT, DINOv2, Swin)."""
from .configuration import Dinov2Config, SwinConfig, ViTConfig
from .modeling_dinov2 import Dinov2ForImageClassification, Dinov2Model
from .modeling_swin import SwinForImageClassification, SwinModel
from .modeling_vit import ViTForImageClassification, ViTModel

__version__ = "0.1.0"
__all__ = ["ViTConfig", "ViTModel", "ViTForImageClassification", "Dinov2Config", "Dinov2Model",
           "Dinov2ForImageClassification", "SwinConfig", "SwinModel", "SwinForImageClassification"]
