"""What mf-vision registers with mf: the ViT, DINOv2, Swin, ViTMAE and CLIP families and their presets."""
from mf import hookimpl
from mf.image_processing import ImageProcessor

from . import convert
from .card import CLIP_CARD, DINOV2_CARD, MAE_CARD, SWIN_CARD, VIT_CARD
from .configuration import CLIPConfig, Dinov2Config, SwinConfig, ViTConfig, ViTMAEConfig
from .modeling_clip import CLIPModel
from .modeling_dinov2 import Dinov2ForImageClassification, Dinov2Model
from .modeling_mae import ViTMAEForPreTraining, ViTMAEModel
from .modeling_swin import SwinForImageClassification, SwinModel
from .modeling_vit import ViTForImageClassification, ViTModel
from .presets import VISION_PRESETS
from .processing_clip import CLIPProcessor
from .tokenization_clip import CLIPTokenizer

# the mf.PLUGIN_API versions this plugin works with
MF_PLUGIN_API = ">=1.0,<2"

FAMILIES = {
    # model_type: (config, {role: class}, AutoModel's role, card, LoRA targets[, tokenizer, processor])
    "vit": (ViTConfig, {"base": ViTModel, "image_classification": ViTForImageClassification},
            "image_classification", VIT_CARD, ("query", "value")),
    # DINOv2 checkpoints are backbones (features); a classifier is trained on them
    "dinov2": (Dinov2Config, {"base": Dinov2Model, "image_classification": Dinov2ForImageClassification}, "base",
               DINOV2_CARD, ("query", "value")),
    "swin": (SwinConfig, {"base": SwinModel, "image_classification": SwinForImageClassification},
             "image_classification", SWIN_CARD, ("query", "value")),
    "vit_mae": (ViTMAEConfig, {"base": ViTMAEModel, "masked_image_modeling": ViTMAEForPreTraining},
                "masked_image_modeling", MAE_CARD, ("query", "value")),
    "clip": (CLIPConfig, {"image_text": CLIPModel}, "image_text", CLIP_CARD, ("q_proj", "v_proj"), CLIPTokenizer,
             CLIPProcessor),
}
# the task a preset of each model type is made for
PRESET_TASKS = {"vit_mae": "masked_image_modeling", "clip": "zero_shot_image_classification"}


@hookimpl
def mf_register_models(registry):
    for model_type, (config_class, roles, default_role, card, targets, *text) in FAMILIES.items():
        tokenizer_class, processor_class = text or (None, ImageProcessor)
        registry.add_model_family(model_type, config_class, roles, default_role=default_role,
                                  tokenizer_class=tokenizer_class, processor_class=processor_class, converter=convert,
                                  hf_model_types=(model_type,), pet_target_modules=targets, card=card)
        registry.export(config_class, *roles.values())
    registry.export(CLIPTokenizer, CLIPProcessor)
    for name, (model_type, description, config, processor, weights) in VISION_PRESETS.items():
        tokenizer = {} if model_type == "clip" else None  # CLIP's vocabulary is bundled
        registry.add_preset(name, model_type, config, description=description,
                            task=PRESET_TASKS.get(model_type, "image_classification"), processor=processor,
                            tokenizer=tokenizer, **weights)
