"""Configurations of the vision families, with Hugging Face's field names (their config.json loads as is)."""
from typing import Dict, List, Optional

from mf.config import PretrainedConfig
from mf.errors import ConfigError


class ImageClassifierConfig(PretrainedConfig):
    """What every image family's config has: the image, the labels, and the checks they share."""

    image_size: int = 224
    patch_size: int = 16
    num_channels: int = 3
    initializer_range: float = 0.02
    num_labels: int = 2
    id2label: Optional[Dict[str, str]] = None

    def validate(self):
        if self.id2label:  # as in transformers, the label map decides how many labels there are
            self.num_labels = len(self.id2label)
        for name in ("image_size", "patch_size", "num_channels"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"field '{name}' must be positive, got {getattr(self, name)}")
        if self.num_labels < 1:
            raise ConfigError(f"field 'num_labels' must be at least 1, got {self.num_labels}")

    def labels(self) -> List[str]:
        """id -> label name (id2label, or LABEL_<i>)."""
        names = self.id2label or {}
        return [names.get(str(i), names.get(i, f"LABEL_{i}")) for i in range(self.num_labels)]

    def _check_heads(self, width, heads, where):
        if width % heads:
            raise ConfigError(f"{where}: width {width} must be divisible by its {heads} attention heads")


class ViTConfig(ImageClassifierConfig):
    """ViT (Dosovitskiy et al. 2021); defaults: ViT-Base/16 at 224 pixels (the tutorial's vit_base_p16)."""

    model_type = "vit"
    choices = {"hidden_act": ("gelu", "gelu_new", "relu", "silu", "gelu_pytorch_tanh")}

    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.0
    attention_probs_dropout_prob: float = 0.0
    layer_norm_eps: float = 1e-12
    qkv_bias: bool = True
    pooler_output_size: Optional[int] = None
    pooler_act: str = "tanh"

    def validate(self):
        super().validate()
        for name in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"field '{name}' must be positive, got {getattr(self, name)}")
        self._check_heads(self.hidden_size, self.num_attention_heads, "hidden_size")
        if self.image_size % self.patch_size:
            raise ConfigError(f"image_size {self.image_size} must be a multiple of patch_size {self.patch_size}")

    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    def parameter_count(self) -> int:
        """ViTForImageClassification's parameters (for the model cards)."""
        h, f, c, p = self.hidden_size, self.intermediate_size, self.num_channels, self.patch_size
        layer = 4 * h * h + 4 * h + 2 * h * f + f + h + 4 * h
        embeddings = h * c * p * p + h + h + (self.num_patches() + 1) * h
        return embeddings + self.num_hidden_layers * layer + 2 * h + h * self.num_labels + self.num_labels


class Dinov2Config(ViTConfig):
    """DINOv2 (Oquab et al. 2023): ViT with LayerScale, 14-pixel patches and position embeddings learnt at
    518 pixels that are resized to any input; defaults: ViT-B/14."""

    model_type = "dinov2"
    choices = {"hidden_act": ("gelu", "gelu_new", "relu", "silu", "gelu_pytorch_tanh")}

    patch_size: int = 14
    image_size: int = 518
    mlp_ratio: float = 4.0
    layer_norm_eps: float = 1e-6
    layerscale_value: float = 1.0
    drop_path_rate: float = 0.0
    use_swiglu_ffn: bool = False
    use_mask_token: bool = True
    intermediate_size: int = 0  # DINOv2 sizes its MLP by mlp_ratio

    def validate(self):
        if not self.intermediate_size:
            self.intermediate_size = int(self.hidden_size * self.mlp_ratio)
        super().validate()

    def parameter_count(self) -> int:
        """Dinov2ForImageClassification's parameters: ViT's, plus LayerScale, the mask token, and a classifier
        on [CLS] and the mean patch state (twice as wide), without a pooler."""
        h = self.hidden_size
        count = super().parameter_count() + self.num_hidden_layers * 2 * h + h + h * self.num_labels
        if self.use_swiglu_ffn:
            f, w = self.intermediate_size, self.swiglu_hidden_size()
            count += self.num_hidden_layers * ((h * 2 * w + 2 * w + w * h + h) - (2 * h * f + f + h))
        return count if self.use_mask_token else count - h

    def swiglu_hidden_size(self) -> int:
        """The SwiGLU MLP's width (DINOv2-giant): 2/3 of the plain MLP's, rounded up to a multiple of 8."""
        return (int(int(self.hidden_size * self.mlp_ratio) * 2 / 3) + 7) // 8 * 8


class SwinConfig(ImageClassifierConfig):
    """Swin Transformer (Liu et al. 2021); defaults: Swin-T at 224 pixels. The tutorial's swin_base_p4w7 is
    embed_dim 128, depths (2, 2, 18, 2), heads (4, 8, 16, 32), window 7."""

    model_type = "swin"
    choices = {"hidden_act": ("gelu", "gelu_new", "relu", "silu", "gelu_pytorch_tanh")}

    patch_size: int = 4
    embed_dim: int = 96
    depths: List[int] = [2, 2, 6, 2]
    num_heads: List[int] = [3, 6, 12, 24]
    window_size: int = 7
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    hidden_dropout_prob: float = 0.0
    attention_probs_dropout_prob: float = 0.0
    drop_path_rate: float = 0.1
    hidden_act: str = "gelu"
    use_absolute_embeddings: bool = False
    layer_norm_eps: float = 1e-5
    # the width after the last stage (what the classifier sees); derived, written for transformers
    hidden_size: Optional[int] = None

    def validate(self):
        super().validate()
        self.depths, self.num_heads = list(self.depths), list(self.num_heads)
        if not self.depths or len(self.depths) != len(self.num_heads):
            raise ConfigError(f"depths {self.depths} and num_heads {self.num_heads} must name the same stages")
        if min(self.depths) < 1 or min(self.num_heads) < 1 or self.window_size < 1 or self.embed_dim < 1:
            raise ConfigError("depths, num_heads, window_size and embed_dim must be positive")
        for stage, heads in enumerate(self.num_heads):
            self._check_heads(self.embed_dim * 2 ** stage, heads, f"stage {stage}")
        self.hidden_size = self.embed_dim * 2 ** (len(self.depths) - 1)

    def parameter_count(self) -> int:
        """SwinForImageClassification's parameters (for the model cards)."""
        c, p, w = self.embed_dim, self.patch_size, self.window_size
        total = c * self.num_channels * p * p + c + 2 * c
        if self.use_absolute_embeddings:
            total += ((self.image_size // p) ** 2 + 1) * c
        for stage, (depth, heads) in enumerate(zip(self.depths, self.num_heads)):
            d = c * 2 ** stage
            f = int(d * self.mlp_ratio)
            block = 2 * 2 * d + 4 * d * d + 4 * d + (2 * w - 1) ** 2 * heads + 2 * d * f + f + d
            total += depth * block
            if stage < len(self.depths) - 1:
                total += 2 * 4 * d + 4 * d * 2 * d
        h = self.hidden_size
        return total + 2 * h + h * self.num_labels + self.num_labels
