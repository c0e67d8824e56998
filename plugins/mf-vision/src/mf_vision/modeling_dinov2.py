"""DINOv2 (Oquab et al. 2023) in MindSpore, with the parameter names of the facebook/dinov2-* checkpoints.

A ViT whose residual branches are scaled by learnt per-channel LayerScale vectors, with 14-pixel patches
and position embeddings learnt at 518 pixels and always resized (bicubically, as transformers does) to
the input's patch grid. The mask token of masked pre-training is kept for checkpoint compatibility.
Dinov2Model returns (hidden states, pooled) with pooled = the final [CLS] state; the classifier reads
[CLS] and the mean of the patch states, concatenated.
"""
import mindspore as ms
from mindspore import nn, ops, Parameter
from mindspore.common.initializer import Zero, initializer

from mf.modeling import PreTrainedModel
from mf.nn import LayerNorm, Linear, SwiGLU
from mf.nn.losses import TokenLoss

from .configuration import Dinov2Config
from .layers import MLP, DropPath
from .modeling_vit import ViTAttention, ViTEmbeddings


class Dinov2Embeddings(ViTEmbeddings):
    def __init__(self, config: Dinov2Config):
        super().__init__(config)
        self.mask_token = Parameter(initializer(Zero(), (1, config.hidden_size), ms.float32), name="mask_token") \
            if config.use_mask_token else None


class Dinov2LayerScale(nn.Cell):
    def __init__(self, config: Dinov2Config):
        super().__init__()
        self.lambda1 = Parameter(ms.Tensor([config.layerscale_value] * config.hidden_size, ms.float32),
                                 name="lambda1")

    def construct(self, x):
        return x * self.lambda1


class Dinov2SwiGLUFFN(nn.Cell):
    """DINOv2-giant's MLP: weights_in gives gate and value halves, silu(gate) * value, then weights_out."""

    def __init__(self, config: Dinov2Config):
        super().__init__()
        width = config.swiglu_hidden_size()
        std = config.initializer_range
        self.width = width
        self.weights_in = Linear(config.hidden_size, 2 * width, init_std=std)
        self.weights_out = Linear(width, config.hidden_size, init_std=std)
        self.swiglu = SwiGLU()

    def construct(self, x):
        both = self.weights_in(x)
        return self.weights_out(self.swiglu(both[..., :self.width], both[..., self.width:]))


class Dinov2Layer(nn.Cell):
    """x + LayerScale(attention(norm1(x))), then + LayerScale(MLP(norm2(.)))."""

    def __init__(self, config: Dinov2Config, drop_path: float = 0.0):
        super().__init__()
        self.norm1 = LayerNorm(config.hidden_size, config.layer_norm_eps)
        self.attention = ViTAttention(config)
        self.layer_scale1 = Dinov2LayerScale(config)
        self.norm2 = LayerNorm(config.hidden_size, config.layer_norm_eps)
        self.mlp = Dinov2SwiGLUFFN(config) if config.use_swiglu_ffn else MLP(config)
        self.layer_scale2 = Dinov2LayerScale(config)
        self.drop_path = DropPath(drop_path)

    def construct(self, x):
        x = x + self.drop_path(self.layer_scale1(self.attention(self.norm1(x))))
        return x + self.drop_path(self.layer_scale2(self.mlp(self.norm2(x))))


class Dinov2Encoder(nn.Cell):
    def __init__(self, config: Dinov2Config):
        super().__init__()
        self.layer = nn.CellList([Dinov2Layer(config, config.drop_path_rate) for _ in range(config.num_hidden_layers)])

    def construct(self, x):
        for block in self.layer:
            x = block(x)
        return x


class Dinov2PreTrainedModel(PreTrainedModel):
    config_class = Dinov2Config
    base_model_prefix = "dinov2"


class Dinov2Model(Dinov2PreTrainedModel):
    """(hidden states [B, 1 + patches, H] after the final LayerNorm, pooled = the [CLS] state [B, H])."""

    ignore_on_load = (r"^classifier\.",)

    def __init__(self, config: Dinov2Config):
        super().__init__(config)
        self.embeddings = Dinov2Embeddings(config)
        self.encoder = Dinov2Encoder(config)
        self.layernorm = LayerNorm(config.hidden_size, config.layer_norm_eps)

    def construct(self, pixel_values):
        hidden = self.layernorm(self.encoder(self.embeddings(pixel_values)))
        return hidden, hidden[:, 0]


class Dinov2ForImageClassification(Dinov2PreTrainedModel):
    """Logits [B, num_labels] from [CLS] and the mean patch state, concatenated; labels [B]."""

    new_on_load = (r"^classifier\.",)

    def __init__(self, config: Dinov2Config):
        super().__init__(config)
        self.dinov2 = Dinov2Model(config)
        self.classifier = Linear(2 * config.hidden_size, config.num_labels, init_std=config.initializer_range)
        self.token_loss = TokenLoss()

    def construct(self, pixel_values, labels=None):
        hidden, cls = self.dinov2(pixel_values)
        features = ops.concat((cls, hidden[:, 1:].mean(1)), -1)
        logits = self.classifier(features)
        if labels is None:
            return logits
        return self.token_loss(logits, labels), logits
