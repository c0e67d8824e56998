"""Vision presets: the tutorial's names, the Hub checkpoints they correspond to, and tiny sizes for tests."""
from mf.image_processing import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, RESAMPLE

# google/vit-base-patch16-224's preprocessing: 224x224 bilinear, mean/std 0.5
VIT_PROCESSOR = {"size": {"height": 224, "width": 224}, "resample": RESAMPLE["bilinear"],
                 "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}
# microsoft/swin-*-224's: 224x224 bicubic, ImageNet mean/std
SWIN_PROCESSOR = {"size": {"height": 224, "width": 224}, "resample": RESAMPLE["bicubic"],
                  "image_mean": list(IMAGENET_DEFAULT_MEAN), "image_std": list(IMAGENET_DEFAULT_STD)}
# facebook/dinov2-*'s BitImageProcessor: shortest edge 256 bicubic, centre crop 224, ImageNet mean/std
DINOV2_PROCESSOR = {"size": {"shortest_edge": 256}, "resample": RESAMPLE["bicubic"], "do_center_crop": True,
                    "crop_size": {"height": 224, "width": 224}, "image_mean": list(IMAGENET_DEFAULT_MEAN),
                    "image_std": list(IMAGENET_DEFAULT_STD)}

_TINY_VIT = dict(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=64)
_TINY_PROCESSOR = {"size": {"height": 32, "width": 32}, "resample": RESAMPLE["bilinear"],
                   "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}

VISION_PRESETS = {
    # name: (model_type, description, config fields, processor settings, weights)
    "vit_base_p16": ("vit", "ViT-Base/16 at 224 px, ImageNet-1k classifier (86M parameters)",
                     dict(image_size=224, patch_size=16, num_labels=1000), VIT_PROCESSOR,
                     {"hub_repo": "google/vit-base-patch16-224"}),
    "vit_tiny": ("vit", "a 2-layer, 32-wide ViT on 32 px images with 8 px patches, for tests", _TINY_VIT,
                 _TINY_PROCESSOR, {"weights_note": "vit_tiny is a test size; use random weights"}),
    "swin_base_p4w7": ("swin", "Swin-Base, 4 px patches, 7x7 windows at 224 px, ImageNet-1k classifier (88M)",
                       dict(embed_dim=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32], window_size=7,
                            num_labels=1000),
                       SWIN_PROCESSOR, {"hub_repo": "microsoft/swin-base-patch4-window7-224"}),
    "swin_tiny_p4w7": ("swin", "Swin-Tiny, 4 px patches, 7x7 windows at 224 px, ImageNet-1k classifier (28M)",
                       dict(embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24], window_size=7,
                            num_labels=1000),
                       SWIN_PROCESSOR, {"hub_repo": "microsoft/swin-tiny-patch4-window7-224"}),
    "swin_tiny": ("swin", "a 2-stage, 16-wide Swin on 32 px images (4 px patches, 4x4 windows), for tests",
                  dict(image_size=32, patch_size=4, embed_dim=16, depths=[2, 2], num_heads=[2, 4], window_size=4),
                  _TINY_PROCESSOR, {"weights_note": "swin_tiny is a test size; use random weights"}),
    "dinov2_small": ("dinov2", "DINOv2 ViT-S/14 backbone (22M parameters), self-supervised features",
                     dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, image_size=518,
                          patch_size=14), DINOV2_PROCESSOR, {"hub_repo": "facebook/dinov2-small"}),
    "dinov2_tiny": ("dinov2", "a 2-layer, 32-wide DINOv2 on 28 px images with 7 px patches, for tests",
                    dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, image_size=28, patch_size=7,
                         layerscale_value=0.5),
                    dict(_TINY_PROCESSOR, size={"height": 28, "width": 28}),
                    {"weights_note": "dinov2_tiny is a test size; use random weights"}),
}
