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

# OpenAI CLIP's CLIPImageProcessor: shortest edge 224 bicubic, centre crop, OpenAI's mean/std
CLIP_MEAN, CLIP_STD = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]
CLIP_PROCESSOR = {"size": {"shortest_edge": 224}, "resample": RESAMPLE["bicubic"], "do_center_crop": True,
                  "crop_size": {"height": 224, "width": 224}, "image_mean": CLIP_MEAN, "image_std": CLIP_STD}
# facebook/vit-mae-base's: 224x224 bicubic, ImageNet mean/std
MAE_PROCESSOR = {"size": {"height": 224, "width": 224}, "resample": RESAMPLE["bicubic"],
                 "image_mean": list(IMAGENET_DEFAULT_MEAN), "image_std": list(IMAGENET_DEFAULT_STD)}

_CLIP_B_TEXT = dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8)
_CLIP_L_TEXT = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12)
_CLIP_B_VISION = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12)
_CLIP_L_VISION = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16)

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
    "mae_vit_base_p16": ("vit_mae", "MAE ViT-Base/16 masked-autoencoder pre-training (encoder 86M, decoder 8 "
                         "layers of 512), 75% of patches masked",
                         dict(image_size=224, patch_size=16), MAE_PROCESSOR, {"hub_repo": "facebook/vit-mae-base"}),
    "mae_tiny": ("vit_mae", "a 2-layer, 32-wide MAE on 32 px images (8 px patches) with a 1-layer decoder, for tests",
                 dict(_TINY_VIT, decoder_hidden_size=16, decoder_num_hidden_layers=1, decoder_num_attention_heads=2,
                      decoder_intermediate_size=32, norm_pix_loss=True),
                 _TINY_PROCESSOR, {"weights_note": "mae_tiny is a test size; use random weights"}),
    "clip_vit_b_32": ("clip", "CLIP ViT-B/32: 224 px images in 32 px patches and a 12-layer text transformer, "
                      "512-d joint space (151M parameters)",
                      dict(text_config=_CLIP_B_TEXT, vision_config=dict(_CLIP_B_VISION, patch_size=32),
                           projection_dim=512), CLIP_PROCESSOR, {"hub_repo": "openai/clip-vit-base-patch32"}),
    "clip_vit_b_16": ("clip", "CLIP ViT-B/16: 224 px images in 16 px patches, 512-d joint space (150M)",
                      dict(text_config=_CLIP_B_TEXT, vision_config=dict(_CLIP_B_VISION, patch_size=16),
                           projection_dim=512), CLIP_PROCESSOR, {"hub_repo": "openai/clip-vit-base-patch16"}),
    "clip_vit_l_14": ("clip", "CLIP ViT-L/14: 224 px images in 14 px patches, 768-d joint space (428M)",
                      dict(text_config=_CLIP_L_TEXT, vision_config=dict(_CLIP_L_VISION, patch_size=14),
                           projection_dim=768), CLIP_PROCESSOR, {"hub_repo": "openai/clip-vit-large-patch14"}),
    "clip_vit_l_14@336": ("clip", "CLIP ViT-L/14 at 336 px (428M)",
                          dict(text_config=_CLIP_L_TEXT,
                               vision_config=dict(_CLIP_L_VISION, patch_size=14, image_size=336), projection_dim=768),
                          dict(CLIP_PROCESSOR, size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336}),
                          {"hub_repo": "openai/clip-vit-large-patch14-336"}),
    "clip_tiny": ("clip", "a 2-layer, 32-wide CLIP (32 px images, 8 px patches; the real 49408-token CLIP BPE), "
                          "for tests",
                  dict(text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4),
                       vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                          num_attention_heads=4, image_size=32, patch_size=8),
                       projection_dim=16),
                  dict(CLIP_PROCESSOR, size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
                  {"weights_note": "clip_tiny is a test size; use random weights"}),
    "dinov2_tiny": ("dinov2", "a 2-layer, 32-wide DINOv2 on 28 px images with 7 px patches, for tests",
                    dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, image_size=28, patch_size=7,
                         layerscale_value=0.5),
                    dict(_TINY_PROCESSOR, size={"height": 28, "width": 28}),
                    {"weights_note": "dinov2_tiny is a test size; use random weights"}),
}
