"""Swin Transformer (Liu et al. 2021) in MindSpore, with Hugging Face's parameter names.

4x4 patches (the image padded to whole patches) are embedded and normalised, then stages of blocks attend
within windows of window_size x window_size patches; every second block shifts the windows by half a
window (a cyclic roll, with a mask so that patches wrapped around do not see each other). Each window adds
a learnt bias per head for every relative offset. Between stages, 2x2 neighbouring patches are merged
(LayerNorm, then a linear map 4C -> 2C). A final LayerNorm and the mean over patches give the pooled
features the classifier reads. As transformers' Swin, stochastic depth acts on the attention branch.

The relative position index is computed from window_size (a buffer, not a parameter): checkpoints that
contain it load, and exported ones leave it out, as transformers' do.
"""
import math

import numpy as np
import mindspore as ms
from mindspore import nn, ops, Parameter
from mindspore.common.initializer import Normal, initializer

from mf.errors import ConfigError
from mf.modeling import PreTrainedModel
from mf.nn import Dropout, LayerNorm, Linear, activation, scaled_dot_product_attention
from mf.nn.losses import TokenLoss

from .configuration import SwinConfig
from .layers import DropPath, PatchEmbeddings


def relative_position_index(window: int) -> np.ndarray:
    """[window^2, window^2]: the row of the bias table for each (query patch, key patch) offset."""
    coords = np.stack(np.meshgrid(np.arange(window), np.arange(window), indexing="ij")).reshape(2, -1)
    relative = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0) + (window - 1)
    return (relative[..., 0] * (2 * window - 1) + relative[..., 1]).astype(np.int32)


def roll(x, shift: int):
    """x [B, H, W, C] rolled by `shift` along H and W (torch.roll with shifts=(shift, shift))."""
    height, width = x.shape[1], x.shape[2]
    rows, cols = shift % height, shift % width
    if rows:
        x = ops.concat((x[:, height - rows:], x[:, :height - rows]), 1)
    if cols:
        x = ops.concat((x[:, :, width - cols:], x[:, :, :width - cols]), 2)
    return x


def partition(x, window: int):
    """[B, H, W, C] -> [B * windows, window * window, C], windows in row-major order per image."""
    batch, height, width, channels = x.shape
    x = x.reshape(batch, height // window, window, width // window, window, channels)
    return x.transpose(0, 1, 3, 2, 4, 5).reshape(-1, window * window, channels)


def merge(windows, window: int, batch: int, height: int, width: int):
    """The inverse of partition: [B * windows, window * window, C] -> [B, H, W, C]."""
    channels = windows.shape[-1]
    x = windows.reshape(batch, height // window, width // window, window, window, channels)
    return x.transpose(0, 1, 3, 2, 4, 5).reshape(batch, height, width, channels)


def shift_mask(height: int, width: int, window: int, shift: int):
    """[windows, window^2, window^2]: 0 between patches of the same region of the shifted image, -100
    between regions that the roll brought together."""
    rows = ops.arange(0, height, dtype=ms.int32)
    cols = ops.arange(0, width, dtype=ms.int32)
    row_region = (rows >= height - window).astype(ms.float32) + (rows >= height - shift).astype(ms.float32)
    col_region = (cols >= width - window).astype(ms.float32) + (cols >= width - shift).astype(ms.float32)
    region = (row_region.reshape(1, height, 1, 1) * 3 + col_region.reshape(1, 1, width, 1))
    region = partition(region, window)[:, :, 0]  # [windows, window^2]
    different = region.reshape(-1, 1, window * window) != region.reshape(-1, window * window, 1)
    return different.astype(ms.float32) * -100.0


class SwinPatchEmbeddings(PatchEmbeddings):
    """The patch projection, on the image padded with zeros to whole patches (right and bottom)."""

    def construct(self, pixel_values):
        height, width = pixel_values.shape[2], pixel_values.shape[3]
        p = self.patch_size
        extra_rows, extra_cols = (p - height % p) % p, (p - width % p) % p
        if extra_rows or extra_cols:
            pixel_values = ops.pad(pixel_values, (0, extra_cols, 0, extra_rows))
        return super().construct(pixel_values)


class SwinEmbeddings(nn.Cell):
    def __init__(self, config: SwinConfig):
        super().__init__()
        self.patch_embeddings = SwinPatchEmbeddings(config.num_channels, config.embed_dim, config.patch_size,
                                                    config.initializer_range)
        self.norm = LayerNorm(config.embed_dim, config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def construct(self, pixel_values):
        patches, rows, cols = self.patch_embeddings(pixel_values)
        return self.dropout(self.norm(patches)), rows, cols


class SwinSelfAttention(nn.Cell):
    """Multi-head attention within a window, plus the relative position bias (and the shift mask)."""

    def __init__(self, config: SwinConfig, dim: int, heads: int):
        super().__init__()
        window = config.window_size
        self.heads, self.head_dim, self.window = heads, dim // heads, window
        std, bias = config.initializer_range, config.qkv_bias
        self.relative_position_bias_table = Parameter(
            initializer(Normal(std), ((2 * window - 1) ** 2, heads), ms.float32), name="relative_position_bias_table")
        self.position_index = ms.Tensor(relative_position_index(window).reshape(-1))
        self.query = Linear(dim, dim, bias=bias, init_std=std)
        self.key = Linear(dim, dim, bias=bias, init_std=std)
        self.value = Linear(dim, dim, bias=bias, init_std=std)
        self.dropout = Dropout(config.attention_probs_dropout_prob)
        self.scale = 1.0 / math.sqrt(self.head_dim)

    def position_bias(self):
        """[1, heads, window^2, window^2]."""
        size = self.window * self.window
        bias = ops.gather(self.relative_position_bias_table, self.position_index, 0).reshape(size, size, self.heads)
        return bias.transpose(2, 0, 1).reshape(1, self.heads, size, size)

    def construct(self, x, mask, images: int):
        """x [images * windows, window^2, dim]; mask None or [windows, window^2, window^2]."""
        count, length, dim = x.shape
        shape = (count, length, self.heads, self.head_dim)
        query, key, value = (layer(x).reshape(shape).transpose(0, 2, 1, 3)
                             for layer in (self.query, self.key, self.value))
        bias = self.position_bias()
        if mask is not None:
            bias = ops.tile(bias + mask.reshape(-1, 1, length, length), (images, 1, 1, 1))
        out = scaled_dot_product_attention(query, key, value, bias, self.scale, self.dropout)
        return out.transpose(0, 2, 1, 3).reshape(count, length, dim)


class SwinSelfOutput(nn.Cell):
    def __init__(self, config: SwinConfig, dim: int):
        super().__init__()
        self.dense = Linear(dim, dim, init_std=config.initializer_range)
        self.dropout = Dropout(config.attention_probs_dropout_prob)

    def construct(self, x):
        return self.dropout(self.dense(x))


class SwinAttention(nn.Cell):
    def __init__(self, config: SwinConfig, dim: int, heads: int):
        super().__init__()
        setattr(self, "self", SwinSelfAttention(config, dim, heads))  # Hugging Face names it "self"
        self.output = SwinSelfOutput(config, dim)

    def construct(self, x, mask, images: int):
        return self.output(getattr(self, "self")(x, mask, images))


class SwinIntermediate(nn.Cell):
    def __init__(self, config: SwinConfig, dim: int):
        super().__init__()
        self.dense = Linear(dim, int(config.mlp_ratio * dim), init_std=config.initializer_range)
        self.act = activation(config.hidden_act)

    def construct(self, x):
        return self.act(self.dense(x))


class SwinOutput(nn.Cell):
    def __init__(self, config: SwinConfig, dim: int):
        super().__init__()
        self.dense = Linear(int(config.mlp_ratio * dim), dim, init_std=config.initializer_range)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def construct(self, x):
        return self.dropout(self.dense(x))


class SwinLayer(nn.Cell):
    """One block: (shifted) window attention and an MLP, each pre-normed and added back."""

    def __init__(self, config: SwinConfig, dim: int, heads: int, shift: int, drop_path: float, resolution: int):
        super().__init__()
        # as the original Swin, a stage whose grid at the configured image size is at most one window wide
        # never shifts (transformers decides this at the first call, which is the same at the trained size)
        self.window, self.shift = config.window_size, 0 if resolution <= config.window_size else shift
        self.layernorm_before = LayerNorm(dim, config.layer_norm_eps)
        self.attention = SwinAttention(config, dim, heads)
        self.drop_path = DropPath(drop_path)
        self.layernorm_after = LayerNorm(dim, config.layer_norm_eps)
        self.intermediate = SwinIntermediate(config, dim)
        self.output = SwinOutput(config, dim)

    def construct(self, x, height: int, width: int):
        batch, _, channels = x.shape
        window = self.window
        if min(height, width) < window:
            # ValueError: graph mode raises only Python's own exception types
            raise ValueError(f"a Swin stage sees {height}x{width} patches, fewer than its {window}x{window} "
                              f"window; use larger images or a smaller window_size")
        # a grid exactly one window wide has nothing to shift across
        shift = 0 if min(height, width) == window else self.shift
        hidden = self.layernorm_before(x).reshape(batch, height, width, channels)
        extra_rows, extra_cols = (window - height % window) % window, (window - width % window) % window
        if extra_rows or extra_cols:
            hidden = ops.pad(hidden, (0, 0, 0, extra_cols, 0, extra_rows))
        padded_height, padded_width = height + extra_rows, width + extra_cols
        if shift:
            hidden = roll(hidden, -shift)
        mask = shift_mask(padded_height, padded_width, window, shift) if shift else None
        windows = self.attention(partition(hidden, window), mask, batch)
        hidden = merge(windows, window, batch, padded_height, padded_width)
        if shift:
            hidden = roll(hidden, shift)
        hidden = hidden[:, :height, :width].reshape(batch, height * width, channels)
        x = x + self.drop_path(hidden)
        return x + self.output(self.intermediate(self.layernorm_after(x)))


class SwinPatchMerging(nn.Cell):
    """2x2 neighbouring patches concatenated (the grid padded to even sides), normalised, mapped 4C -> 2C."""

    def __init__(self, config: SwinConfig, dim: int):
        super().__init__()
        self.norm = LayerNorm(4 * dim, config.layer_norm_eps)
        self.reduction = Linear(4 * dim, 2 * dim, bias=False, init_std=config.initializer_range)

    def construct(self, x, height: int, width: int):
        batch, _, channels = x.shape
        x = x.reshape(batch, height, width, channels)
        if height % 2 or width % 2:
            x = ops.pad(x, (0, 0, 0, width % 2, 0, height % 2))
        rows, cols = x.shape[1] // 2, x.shape[2] // 2
        # the four patches of each 2x2 block in Hugging Face's order (0,0), (1,0), (0,1), (1,1), concatenated;
        # a reshape instead of strided slices, whose gradient MindSpore's CPU backend gets wrong
        x = x.reshape(batch, rows, 2, cols, 2, channels).transpose(0, 1, 3, 4, 2, 5)
        return self.reduction(self.norm(x.reshape(batch, rows * cols, 4 * channels)))


class SwinStage(nn.Cell):
    def __init__(self, config: SwinConfig, stage: int, drop_paths):
        super().__init__()
        dim = config.embed_dim * 2 ** stage
        heads = config.num_heads[stage]
        resolution = -(-config.image_size // config.patch_size)
        for _ in range(stage):
            resolution = (resolution + 1) // 2
        self.blocks = nn.CellList([SwinLayer(config, dim, heads, 0 if i % 2 == 0 else config.window_size // 2,
                                             drop_paths[i], resolution) for i in range(config.depths[stage])])
        self.downsample = SwinPatchMerging(config, dim) if stage < len(config.depths) - 1 else None

    def construct(self, x, height: int, width: int):
        for block in self.blocks:
            x = block(x, height, width)
        if self.downsample is None:
            return x, height, width
        return self.downsample(x, height, width), (height + 1) // 2, (width + 1) // 2


class SwinEncoder(nn.Cell):
    def __init__(self, config: SwinConfig):
        super().__init__()
        # stochastic depth rises linearly over all blocks, from 0 to drop_path_rate
        rates = np.linspace(0, config.drop_path_rate, sum(config.depths)).tolist()
        starts = np.cumsum([0] + list(config.depths)).tolist()
        self.layers = nn.CellList([SwinStage(config, stage, rates[starts[stage]:starts[stage + 1]])
                                   for stage in range(len(config.depths))])

    def construct(self, x, height: int, width: int):
        for stage in self.layers:
            x, height, width = stage(x, height, width)
        return x


class SwinPreTrainedModel(PreTrainedModel):
    config_class = SwinConfig
    base_model_prefix = "swin"

    def transformer_blocks(self):
        return [(name, cell) for name, cell in self.cells_and_names() if isinstance(cell, SwinLayer)]


class SwinModel(SwinPreTrainedModel):
    """(hidden states [B, patches of the last stage, C] after the final LayerNorm, pooled = their mean [B, C])."""

    ignore_on_load = (r"^classifier\.", r"\.mask_token$")

    def __init__(self, config: SwinConfig):
        super().__init__(config)
        if config.use_absolute_embeddings:
            raise ConfigError("use_absolute_embeddings=True (absolute position embeddings on top of Swin's relative "
                              "bias) is not supported by mf's Swin; no published Swin checkpoint uses it")
        self.embeddings = SwinEmbeddings(config)
        self.encoder = SwinEncoder(config)
        self.layernorm = LayerNorm(config.hidden_size, config.layer_norm_eps)

    def construct(self, pixel_values):
        x, rows, cols = self.embeddings(pixel_values)
        hidden = self.layernorm(self.encoder(x, rows, cols))
        return hidden, hidden.mean(1)


class SwinForImageClassification(SwinPreTrainedModel):
    """Logits [B, num_labels] from the pooled features; labels [B]."""

    new_on_load = (r"^classifier\.",)
    ignore_on_load = (r"\.mask_token$",)

    def __init__(self, config: SwinConfig):
        super().__init__(config)
        self.swin = SwinModel(config)
        self.classifier = Linear(config.hidden_size, config.num_labels, init_std=config.initializer_range)
        self.token_loss = TokenLoss()

    def construct(self, pixel_values, labels=None):
        logits = self.classifier(self.swin(pixel_values)[1])
        if labels is None:
            return logits
        return self.token_loss(logits, labels), logits
