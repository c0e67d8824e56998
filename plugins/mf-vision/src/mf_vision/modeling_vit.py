"""ViT (Dosovitskiy et al. 2021) in MindSpore, with Hugging Face's parameter names.

An image is cut into patch_size x patch_size patches, each projected to a vector (optionally after a
convolutional stem, config.stem_channels: an mf extension that transformers' ViT does not have); a learnt [CLS] vector
goes first and learnt position embeddings are added (resized bicubically, as transformers'
interpolate_pos_encoding does, when the image has another size than the one they were learnt at).
Pre-norm blocks of self-attention and a GELU MLP follow, then a final LayerNorm; the classifier reads the
[CLS] position. construct returns the outputs, or (loss, logits) with labels.
"""
import math

import mindspore as ms
from mindspore import nn, ops, Parameter
from mindspore.common.initializer import Normal, initializer

from mf.modeling import PreTrainedModel
from mf.nn import DotProductAttention, Dropout, LayerNorm, Linear, activation, can_join, joint_linear
from mf.nn.losses import TokenLoss

from .configuration import ViTConfig
from .layers import ConvStemPatchEmbeddings, PatchEmbeddings, resize_position_grid


class ViTEmbeddings(nn.Cell):
    def __init__(self, config: ViTConfig):
        super().__init__()
        std = config.initializer_range
        self.cls_token = Parameter(initializer(Normal(std), (1, 1, config.hidden_size), ms.float32), name="cls_token")
        if config.stem_channels:
            self.patch_embeddings = ConvStemPatchEmbeddings(config.num_channels, config.stem_channels,
                                                            config.hidden_size, config.patch_size, std)
        else:
            self.patch_embeddings = PatchEmbeddings(config.num_channels, config.hidden_size, config.patch_size, std)
        self.position_embeddings = Parameter(
            initializer(Normal(std), (1, config.num_patches() + 1, config.hidden_size), ms.float32),
            name="position_embeddings")
        self.dropout = Dropout(config.hidden_dropout_prob)

    def positions(self, rows, cols):
        """[1, 1 + rows * cols, hidden]: the [CLS] position, then the patch grid resized to rows x cols."""
        table = self.position_embeddings[0]
        grid = resize_position_grid(table[1:], rows, cols)
        return ops.concat((table[:1], grid), 0).reshape(1, 1 + rows * cols, -1)

    def construct(self, pixel_values):
        patches, rows, cols = self.patch_embeddings(pixel_values)
        batch = patches.shape[0]
        cls = ops.broadcast_to(self.cls_token, (batch, 1, patches.shape[2]))
        x = ops.concat((cls, patches), 1) + self.positions(rows, cols)
        return self.dropout(x)


class ViTSelfAttention(nn.Cell):
    def __init__(self, config: ViTConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        std, bias = config.initializer_range, config.qkv_bias
        self.query = Linear(config.hidden_size, config.hidden_size, bias=bias, init_std=std)
        self.key = Linear(config.hidden_size, config.hidden_size, bias=bias, init_std=std)
        self.value = Linear(config.hidden_size, config.hidden_size, bias=bias, init_std=std)
        self.attend = DotProductAttention(1.0 / math.sqrt(self.head_dim), Dropout(config.attention_probs_dropout_prob))

    def construct(self, x):
        batch, length, _ = x.shape
        shape = (batch, length, self.num_heads, self.head_dim)
        no_mask = ops.zeros((1, 1, 1, length), ms.float32)  # every patch sees every patch
        projections = (self.query, self.key, self.value)
        if self.training and can_join(projections):  # one product, read in place by the attention kernel
            qkv = joint_linear(x, projections).reshape(batch, length, 3, self.num_heads, self.head_dim)
            return self.attend.packed(qkv, no_mask)
        return self.attend(self.query(x).reshape(shape), self.key(x).reshape(shape), self.value(x).reshape(shape),
                           no_mask)


class ViTSelfOutput(nn.Cell):
    def __init__(self, config: ViTConfig):
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size, init_std=config.initializer_range)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def construct(self, x):
        return self.dropout(self.dense(x))


class ViTAttention(nn.Cell):
    """attention.attention (query/key/value) and attention.output.dense, Hugging Face's layout; DINOv2 uses
    it too."""

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.attention = ViTSelfAttention(config)
        self.output = ViTSelfOutput(config)

    def construct(self, x):
        return self.output(self.attention(x))


class ViTIntermediate(nn.Cell):
    def __init__(self, config: ViTConfig):
        super().__init__()
        self.dense = Linear(config.hidden_size, config.intermediate_size, init_std=config.initializer_range)
        self.act = activation(config.hidden_act)

    def construct(self, x):
        return self.act(self.dense(x))


class ViTOutput(nn.Cell):
    def __init__(self, config: ViTConfig):
        super().__init__()
        self.dense = Linear(config.intermediate_size, config.hidden_size, init_std=config.initializer_range)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def construct(self, x):
        return self.dropout(self.dense(x))


class ViTLayer(nn.Cell):
    """x + attention(LN(x)), then + MLP(LN(.))."""

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.layernorm_before = LayerNorm(config.hidden_size, config.layer_norm_eps)
        self.attention = ViTAttention(config)
        self.layernorm_after = LayerNorm(config.hidden_size, config.layer_norm_eps)
        self.intermediate = ViTIntermediate(config)
        self.output = ViTOutput(config)

    def construct(self, x):
        x = x + self.attention(self.layernorm_before(x))
        return x + self.output(self.intermediate(self.layernorm_after(x)))


class ViTEncoder(nn.Cell):
    def __init__(self, config: ViTConfig):
        super().__init__()
        self.layer = nn.CellList([ViTLayer(config) for _ in range(config.num_hidden_layers)])

    def construct(self, x):
        for block in self.layer:
            x = block(x)
        return x


class ViTPooler(nn.Cell):
    def __init__(self, config: ViTConfig):
        super().__init__()
        self.dense = Linear(config.hidden_size, config.pooler_output_size or config.hidden_size,
                            init_std=config.initializer_range)
        self.act = activation(config.pooler_act) if config.pooler_act != "tanh" else None

    def construct(self, hidden):
        x = self.dense(hidden[:, 0])
        return ops.tanh(x) if self.act is None else self.act(x)


class ViTPreTrainedModel(PreTrainedModel):
    config_class = ViTConfig
    base_model_prefix = "vit"


class ViTModel(ViTPreTrainedModel):
    """The encoder: (hidden states [B, 1 + patches, H], pooled [CLS] [B, H]); with add_pooling_layer=False,
    the hidden states alone."""

    ignore_on_load = (r"^classifier\.", r"\.mask_token$")
    new_on_load = (r"^pooler\.",)  # a classifier's checkpoint has no pooler

    def __init__(self, config: ViTConfig, add_pooling_layer: bool = True):
        super().__init__(config)
        self.embeddings = ViTEmbeddings(config)
        self.encoder = ViTEncoder(config)
        self.layernorm = LayerNorm(config.hidden_size, config.layer_norm_eps)
        self.pooler = ViTPooler(config) if add_pooling_layer else None

    def construct(self, pixel_values):
        hidden = self.layernorm(self.encoder(self.embeddings(pixel_values)))
        if self.pooler is None:
            return hidden
        return hidden, self.pooler(hidden)


class ViTForImageClassification(ViTPreTrainedModel):
    """Logits [B, num_labels] from the final [CLS] state; labels [B] (-100 skipped)."""

    ignore_on_load = (r"^vit\.pooler\.", r"\.mask_token$")
    new_on_load = (r"^classifier\.",)  # a backbone checkpoint gets a new classifier

    def __init__(self, config: ViTConfig):
        super().__init__(config)
        self.vit = ViTModel(config, add_pooling_layer=False)
        self.classifier = Linear(config.hidden_size, config.num_labels, init_std=config.initializer_range)
        self.token_loss = TokenLoss()

    def construct(self, pixel_values, labels=None):
        logits = self.classifier(self.vit(pixel_values)[:, 0])
        if labels is None:
            return logits
        return self.token_loss(logits, labels), logits

