"""What mf-vision registers with mf: the ViT, DINOv2 and Swin families and their presets."""
from mf import hookimpl
from mf.image_processing import ImageProcessor

from . import convert
from .card import DINOV2_CARD, SWIN_CARD, VIT_CARD
from .configuration import Dinov2Config, SwinConfig, ViTConfig
from .modeling_dinov2 import Dinov2ForImageClassification, Dinov2Model
from .modeling_swin import SwinForImageClassification, SwinModel
from .modeling_vit import ViTForImageClassification, ViTModel
from .presets import VISION_PRESETS

# the mf.PLUGIN_API versions this plugin works with
MF_PLUGIN_API = ">=1.0,<2"

FAMILIES = {
    # model_type: (config, {role: class}, AutoModel's role, card, LoRA targets)
    "vit": (ViTConfig, {"base": ViTModel, "image_classification": ViTForImageClassification},
            "image_classification", VIT_CARD, ("query", "value")),
    # DINOv2 checkpoints are backbones (features); a classifier is trained on them
    "dinov2": (Dinov2Config, {"base": Dinov2Model, "image_classification": Dinov2ForImageClassification}, "base",
               DINOV2_CARD, ("query", "value")),
    "swin": (SwinConfig, {"base": SwinModel, "image_classification": SwinForImageClassification},
             "image_classification", SWIN_CARD, ("query", "value")),
}


@hookimpl
def mf_register_models(registry):
    for model_type, (config_class, roles, default_role, card, targets) in FAMILIES.items():
        registry.add_model_family(model_type, config_class, roles, default_role=default_role,
                                  processor_class=ImageProcessor, converter=convert, hf_model_types=(model_type,),
                                  pet_target_modules=targets, card=card)
        registry.export(config_class, *roles.values())
    for name, (model_type, description, config, processor, weights) in VISION_PRESETS.items():
        registry.add_preset(name, model_type, config, description=description, task="image_classification",
                            processor=processor, **weights)
