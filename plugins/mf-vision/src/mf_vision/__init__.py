"""mf-vision: image models for mf (ViT, DINOv2, Swin, ViTMAE, CLIP)."""
from .configuration import (CLIPConfig, CLIPTextConfig, CLIPVisionConfig, Dinov2Config, SwinConfig, ViTConfig,
                            ViTMAEConfig)
from .modeling_clip import CLIPModel
from .modeling_dinov2 import Dinov2ForImageClassification, Dinov2Model
from .modeling_mae import ViTMAEForPreTraining, ViTMAEModel
from .modeling_swin import SwinForImageClassification, SwinModel
from .modeling_vit import ViTForImageClassification, ViTModel
from .processing_clip import CLIPProcessor
from .tokenization_clip import CLIPTokenizer

__version__ = "0.1.0"
__all__ = ["ViTConfig", "ViTModel", "ViTForImageClassification", "Dinov2Config", "Dinov2Model",
           "Dinov2ForImageClassification", "SwinConfig", "SwinModel", "SwinForImageClassification", "ViTMAEConfig",
           "ViTMAEModel", "ViTMAEForPreTraining", "CLIPConfig", "CLIPTextConfig", "CLIPVisionConfig", "CLIPModel",
           "CLIPTokenizer", "CLIPProcessor"]
