"""Configurations of the vision families, with Hugging Face's field names (their config.json loads as is)."""
from typing import Dict, List, Optional

from mf.config import PretrainedConfig
from mf.errors import ConfigError


def require_positive(config, names, where="field"):
    """ConfigError naming the first of `names` that is not positive."""
    for name in names:
        if getattr(config, name) <= 0:
            raise ConfigError(f"{where} '{name}' must be positive, got {getattr(config, name)}")


def require_divisible_heads(width, heads, where):
    if width % heads:
        raise ConfigError(f"{where}: width {width} must be divisible by its {heads} attention heads")


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
        require_positive(self, ("image_size", "patch_size", "num_channels"))
        if self.num_labels < 1:
            raise ConfigError(f"field 'num_labels' must be at least 1, got {self.num_labels}")

    def labels(self) -> List[str]:
        """id -> label name (id2label, or LABEL_<i>)."""
        names = self.id2label or {}
        return [names.get(str(i), names.get(i, f"LABEL_{i}")) for i in range(self.num_labels)]



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
    # mf's extension (empty: transformers' ViT): output channels of 3x3 stride-2 convolutions before the patch
    # projection (Xiao et al. 2021); each halves the image. A checkpoint with a stem is mf's own: transformers'
    # ViTForImageClassification cannot load it.
    stem_channels: List[int] = []

    def validate(self):
        super().validate()
        require_positive(self, ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"))
        require_divisible_heads(self.hidden_size, self.num_attention_heads, "hidden_size")
        if self.image_size % self.patch_size:
            raise ConfigError(f"image_size {self.image_size} must be a multiple of patch_size {self.patch_size}")
        self.stem_channels = list(self.stem_channels or [])
        if any(not isinstance(width, int) or width < 1 for width in self.stem_channels):
            raise ConfigError(f"stem_channels must be positive channel counts, got {self.stem_channels}")
        if self.patch_size % 2 ** len(self.stem_channels):
            raise ConfigError(f"patch_size {self.patch_size} must be a multiple of 2**{len(self.stem_channels)}: "
                              f"each of the {len(self.stem_channels)} stem convolutions halves the image; use a "
                              f"larger patch_size or fewer stem_channels")

    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    def parameter_count(self) -> int:
        """ViTForImageClassification's parameters (for the model cards)."""
        h, f, c, p = self.hidden_size, self.intermediate_size, self.num_channels, self.patch_size
        layer = 4 * h * h + 4 * h + 2 * h * f + f + h + 4 * h
        stem = 0
        for width in self.stem_channels:  # the stem's 3x3 convolutions; the projection reads the last one
            stem += 9 * c * width + width
            c, p = width, p // 2
        embeddings = stem + h * c * p * p + h + h + (self.num_patches() + 1) * h
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
        if self.stem_channels:
            raise ConfigError("DINOv2 has no convolutional stem: leave stem_channels empty")
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
            require_divisible_heads(self.embed_dim * 2 ** stage, heads, f"stage {stage}")
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


class ViTMAEConfig(ViTConfig):
    """ViTMAE (He et al. 2022): a ViT encoder that sees the unmasked quarter of the patches and a small
    decoder that predicts the pixels of the masked ones; defaults: MAE ViT-Base/16 (the tutorial's
    mae_vit_base_p16)."""

    model_type = "vit_mae"
    choices = {"hidden_act": ("gelu", "gelu_new", "relu", "silu", "gelu_pytorch_tanh")}

    decoder_num_attention_heads: int = 16
    decoder_hidden_size: int = 512
    decoder_num_hidden_layers: int = 8
    decoder_intermediate_size: int = 2048
    mask_ratio: float = 0.75
    norm_pix_loss: bool = False

    def validate(self):
        if self.stem_channels:
            raise ConfigError("ViTMAE has no convolutional stem: leave stem_channels empty")
        super().validate()
        require_positive(self, ("decoder_num_attention_heads", "decoder_hidden_size", "decoder_num_hidden_layers",
                                "decoder_intermediate_size"))
        require_divisible_heads(self.decoder_hidden_size, self.decoder_num_attention_heads, "decoder_hidden_size")
        if not 0.0 <= self.mask_ratio < 1.0:
            raise ConfigError(f"field 'mask_ratio' must be in [0, 1), got {self.mask_ratio}")
        if self.kept_patches() < 1:
            raise ConfigError(f"mask_ratio {self.mask_ratio} keeps no patch of {self.num_patches()}; lower it")

    def kept_patches(self) -> int:
        """How many patches the encoder sees: int(patches * (1 - mask_ratio)), as MAE rounds."""
        return int(self.num_patches() * (1 - self.mask_ratio))

    def decoder_config(self) -> "ViTConfig":
        """The decoder's blocks are ViT blocks of the decoder's width."""
        return ViTConfig(hidden_size=self.decoder_hidden_size, num_hidden_layers=self.decoder_num_hidden_layers,
                         num_attention_heads=self.decoder_num_attention_heads,
                         intermediate_size=self.decoder_intermediate_size, hidden_act=self.hidden_act,
                         layer_norm_eps=self.layer_norm_eps, qkv_bias=self.qkv_bias, image_size=self.image_size,
                         patch_size=self.patch_size, num_channels=self.num_channels,
                         initializer_range=self.initializer_range)

    def parameter_count(self) -> int:
        """ViTMAEForPreTraining's parameters."""
        h, f, c, p = self.hidden_size, self.intermediate_size, self.num_channels, self.patch_size
        d, g = self.decoder_hidden_size, self.decoder_intermediate_size
        layer = lambda w, m: 4 * w * w + 4 * w + 2 * w * m + m + w + 4 * w  # noqa: E731
        tokens = self.num_patches() + 1
        encoder = h * c * p * p + h + h + tokens * h + self.num_hidden_layers * layer(h, f) + 2 * h
        decoder = h * d + d + d + tokens * d + self.decoder_num_hidden_layers * layer(d, g) + 2 * d + \
            d * p * p * c + p * p * c
        return encoder + decoder


CLIP_CHOICES = {"hidden_act": ("quick_gelu", "gelu", "gelu_new", "relu", "gelu_pytorch_tanh")}


class CLIPTextConfig(PretrainedConfig):
    """CLIP's text tower: a causal transformer over CLIP BPE ids; pooled at the end-of-text token."""

    model_type = "clip_text_model"
    choices = CLIP_CHOICES

    vocab_size: int = 49408
    hidden_size: int = 512
    intermediate_size: int = 2048
    projection_dim: int = 512
    num_hidden_layers: int = 12
    num_attention_heads: int = 8
    max_position_embeddings: int = 77
    hidden_act: str = "quick_gelu"
    layer_norm_eps: float = 1e-5
    attention_dropout: float = 0.0
    initializer_range: float = 0.02
    initializer_factor: float = 1.0
    pad_token_id: Optional[int] = 1
    bos_token_id: Optional[int] = 49406
    eos_token_id: Optional[int] = 49407

    def validate(self):
        require_positive(self, ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                                "num_attention_heads", "max_position_embeddings"), "text_config field")
        require_divisible_heads(self.hidden_size, self.num_attention_heads, "text_config hidden_size")


class CLIPVisionConfig(PretrainedConfig):
    """CLIP's image tower: a ViT with a LayerNorm before the blocks, pooled at [CLS] after a final LayerNorm."""

    model_type = "clip_vision_model"
    choices = CLIP_CHOICES

    hidden_size: int = 768
    intermediate_size: int = 3072
    projection_dim: int = 512
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    num_channels: int = 3
    image_size: int = 224
    patch_size: int = 32
    hidden_act: str = "quick_gelu"
    layer_norm_eps: float = 1e-5
    attention_dropout: float = 0.0
    initializer_range: float = 0.02
    initializer_factor: float = 1.0

    def validate(self):
        require_positive(self, ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                                "num_channels", "image_size", "patch_size"), "vision_config field")
        require_divisible_heads(self.hidden_size, self.num_attention_heads, "vision_config hidden_size")
        if self.image_size % self.patch_size:
            raise ConfigError(f"vision_config: image_size {self.image_size} must be a multiple of patch_size "
                              f"{self.patch_size}")

    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2


class CLIPConfig(PretrainedConfig):
    """CLIP (Radford et al. 2021): a text and an image tower projected into one space, compared by cosine
    similarity times a learnt temperature. Hugging Face's layout: `text_config` and `vision_config` objects
    (missing fields take their defaults), `projection_dim`, `logit_scale_init_value`. Defaults: ViT-B/32."""

    model_type = "clip"

    text_config: Optional[Dict] = None
    vision_config: Optional[Dict] = None
    projection_dim: int = 512
    logit_scale_init_value: float = 2.6592
    initializer_factor: float = 1.0

    def validate(self):
        try:
            self.text = CLIPTextConfig(**{k: v for k, v in (self.text_config or {}).items() if k != "model_type"})
            self.vision = CLIPVisionConfig(**{k: v for k, v in (self.vision_config or {}).items()
                                              if k != "model_type"})
        except TypeError as exc:
            raise ConfigError(f"text_config / vision_config: {exc}") from None
        # written back whole, so that config.json says every value the model was built with
        self.text_config = {k: v for k, v in self.text.to_dict().items() if k != "compute_dtype"}
        self.vision_config = {k: v for k, v in self.vision.to_dict().items() if k != "compute_dtype"}
        if self.projection_dim <= 0:
            raise ConfigError(f"field 'projection_dim' must be positive, got {self.projection_dim}")

    # what core's pipelines and Trainer read from a model's config
    @property
    def image_size(self) -> int:
        return self.vision.image_size

    @property
    def num_channels(self) -> int:
        return self.vision.num_channels

    @property
    def max_position_embeddings(self) -> int:
        return self.text.max_position_embeddings

    @property
    def vocab_size(self) -> int:
        return self.text.vocab_size

    def parameter_count(self) -> int:
        """CLIPModel's parameters."""
        def layers(config):
            h, f = config.hidden_size, config.intermediate_size
            return config.num_hidden_layers * (4 * h * h + 4 * h + 2 * h * f + f + h + 4 * h)

        t, v = self.text, self.vision
        text = t.vocab_size * t.hidden_size + t.max_position_embeddings * t.hidden_size + layers(t) + \
            2 * t.hidden_size
        vision = v.hidden_size * (1 + v.num_channels * v.patch_size ** 2 + v.num_patches() + 1) + layers(v) + \
            4 * v.hidden_size
        projections = self.projection_dim * (t.hidden_size + v.hidden_size)
        return text + vision + projections + 1
