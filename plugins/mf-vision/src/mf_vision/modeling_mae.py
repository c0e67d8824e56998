"""ViTMAE (He et al. 2022, masked autoencoders) in MindSpore, with Hugging Face's parameter names.

The image is cut into patches as ViT does and fixed 2-D sin-cos position embeddings are added. A random
mask_ratio of the patches is hidden: each image draws a noise value per patch (or takes the `noise` given),
and the patches with the smallest values are kept, in that order. The ViT encoder sees [CLS] and the kept
patches only. The decoder widens the sequence back: the encoder's states projected to its width, a learnt
mask token at every hidden patch, put back in image order, with the decoder's own fixed positions; a few
ViT blocks and a linear layer then predict each patch's pixels. The loss is the mean squared error over
the hidden patches only, against the pixels (each patch normalised to mean 0 and variance 1 with
norm_pix_loss, as the MAE paper's best setting).
"""
import numpy as np
import mindspore as ms
from mindspore import Parameter, Tensor, nn, ops
from mindspore.common.initializer import Normal, initializer

from mf.modeling import PreTrainedModel
from mf.nn import LayerNorm, Linear

from .configuration import ViTMAEConfig
from .layers import PatchEmbeddings, resize_position_grid
from .modeling_vit import ViTEncoder, ViTLayer


def sincos_positions_1d(width: int, positions: np.ndarray) -> np.ndarray:
    """[len(positions), width]: sines of positions * 10000^(-2i/width) for the first half, cosines after."""
    frequencies = 1.0 / 10000 ** (np.arange(width // 2, dtype=np.float64) / (width / 2.0))
    angles = np.outer(positions.reshape(-1), frequencies)
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)


def sincos_position_table(width: int, grid: int) -> np.ndarray:
    """[1, 1 + grid * grid, width]: MAE's fixed 2-D positions (zeros for [CLS]); for each patch, half the
    channels encode its row and half its column, as the original's get_2d_sincos_pos_embed."""
    if width % 4:
        raise ValueError(f"2-D sin-cos position embeddings need a width divisible by 4, got {width}")
    cols, rows = np.meshgrid(np.arange(grid, dtype=np.float64), np.arange(grid, dtype=np.float64))
    table = np.concatenate([sincos_positions_1d(width // 2, cols), sincos_positions_1d(width // 2, rows)], axis=1)
    table = np.concatenate([np.zeros((1, width)), table], axis=0)
    return table[None].astype(np.float32)


def patchify(pixel_values, patch_size):
    """[B, C, H, W] -> [B, patches, p * p * C]: each patch's pixels row by row, channels last (MAE's order)."""
    batch, channels, height, width = pixel_values.shape
    rows, cols = height // patch_size, width // patch_size
    x = pixel_values[:, :, :rows * patch_size, :cols * patch_size]
    x = x.reshape(batch, channels, rows, patch_size, cols, patch_size)
    return x.transpose(0, 2, 4, 3, 5, 1).reshape(batch, rows * cols, patch_size * patch_size * channels)


def gather_rows(x, index):
    """x [B, N, D] at index [B, K] along the sequence axis -> [B, K, D]."""
    batch, count = index.shape
    index = ops.broadcast_to(index.reshape(batch, count, 1), (batch, count, x.shape[2]))
    return ops.gather_elements(x, 1, index)


class ViTMAEEmbeddings(nn.Cell):
    """Patches with fixed positions, a random subset kept; returns (embeddings [B, 1 + kept, H], mask [B, N]
    (1 = hidden), ids_restore [B, N])."""

    def __init__(self, config: ViTMAEConfig):
        super().__init__()
        h, std = config.hidden_size, config.initializer_range
        self.kept = config.kept_patches()
        self.cls_token = Parameter(initializer(Normal(std), (1, 1, h), ms.float32), name="cls_token")
        self.patch_embeddings = PatchEmbeddings(config.num_channels, h, config.patch_size, std)
        grid = config.image_size // config.patch_size
        self.position_embeddings = Parameter(Tensor(sincos_position_table(h, grid)), name="position_embeddings",
                                             requires_grad=False)
        # Without a noise tensor the mask is drawn in the graph. An explicit op seed (the global seed of
        # mindspore.set_seed when the model is built) makes the sequence of masks the same in every process;
        # MindSpore's implicit seeding of graph-mode random ops does not.
        seed = ms.get_seed()
        self.uniform = ops.UniformReal(seed=seed, seed2=1) if seed is not None else ops.UniformReal()

    def construct(self, pixel_values, noise=None):
        patches, rows, cols = self.patch_embeddings(pixel_values)
        batch, count, width = patches.shape
        table = self.position_embeddings[0]
        patches = patches + resize_position_grid(table[1:], rows, cols).reshape(1, count, width)
        if noise is None:
            noise = self.uniform((batch, count))
        ids_shuffle = ops.argsort(noise, axis=1)  # the smallest noise values are kept
        ids_restore = ops.argsort(ids_shuffle, axis=1)
        kept = gather_rows(patches, ids_shuffle[:, :self.kept])
        mask = ops.concat((ops.zeros((batch, self.kept), ms.float32), ops.ones((batch, count - self.kept), ms.float32)),
                          1)
        mask = ops.gather_elements(mask, 1, ids_restore)
        cls = ops.broadcast_to(self.cls_token + table[:1].reshape(1, 1, width), (batch, 1, width))
        return ops.concat((cls, kept), 1), mask, ids_restore


class ViTMAEModel(PreTrainedModel):
    """The encoder on the kept patches: construct(pixel_values, noise=None) -> (states [B, 1 + kept, H], mask,
    ids_restore)."""

    config_class = ViTMAEConfig
    base_model_prefix = "vit"
    ignore_on_load = (r"^decoder\.",)

    def __init__(self, config: ViTMAEConfig):
        super().__init__(config)
        self.embeddings = ViTMAEEmbeddings(config)
        self.encoder = ViTEncoder(config)
        self.layernorm = LayerNorm(config.hidden_size, config.layer_norm_eps)

    def construct(self, pixel_values, noise=None):
        x, mask, ids_restore = self.embeddings(pixel_values, noise)
        return self.layernorm(self.encoder(x)), mask, ids_restore


class ViTMAEDecoder(nn.Cell):
    def __init__(self, config: ViTMAEConfig):
        super().__init__()
        decoder = config.decoder_config()
        d, std = config.decoder_hidden_size, config.initializer_range
        self.decoder_embed = Linear(config.hidden_size, d, init_std=std)
        self.mask_token = Parameter(initializer(Normal(std), (1, 1, d), ms.float32), name="mask_token")
        grid = config.image_size // config.patch_size
        self.decoder_pos_embed = Parameter(Tensor(sincos_position_table(d, grid)), name="decoder_pos_embed",
                                           requires_grad=False)
        self.decoder_layers = nn.CellList([ViTLayer(decoder) for _ in range(config.decoder_num_hidden_layers)])
        self.decoder_norm = LayerNorm(d, config.layer_norm_eps)
        self.decoder_pred = Linear(d, config.patch_size ** 2 * config.num_channels, init_std=std)

    def construct(self, latent, ids_restore, rows, cols):
        """latent [B, 1 + kept, H] -> pixel predictions [B, patches, p * p * C]."""
        x = self.decoder_embed(latent)
        batch, _, width = x.shape
        count = ids_restore.shape[1]
        hidden = ops.broadcast_to(self.mask_token, (batch, count + 1 - x.shape[1], width))
        patches = gather_rows(ops.concat((x[:, 1:], hidden), 1), ids_restore)  # back in image order
        table = self.decoder_pos_embed[0]
        positions = ops.concat((table[:1], resize_position_grid(table[1:], rows, cols)), 0)
        x = ops.concat((x[:, :1], patches), 1) + positions.reshape(1, count + 1, width)
        for layer in self.decoder_layers:
            x = layer(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:]


class ViTMAEForPreTraining(PreTrainedModel):
    """construct(pixel_values, noise=None) -> (loss, logits [B, patches, p * p * C], mask [B, patches]).
    noise [B, patches] decides the mask (the smallest values are kept); without it, it is drawn uniformly: the
    same sequence of masks for models built after the same mindspore.set_seed."""

    config_class = ViTMAEConfig
    base_model_prefix = "vit"

    def __init__(self, config: ViTMAEConfig):
        super().__init__(config)
        self.vit = ViTMAEModel(config)
        self.decoder = ViTMAEDecoder(config)
        self.patch_size = config.patch_size
        self.norm_pix_loss = config.norm_pix_loss

    def pixel_targets(self, pixel_values):
        """What the decoder predicts: each patch's pixels, normalised per patch with norm_pix_loss (the
        unbiased variance, as the reference's torch.var)."""
        target = patchify(pixel_values, self.patch_size)
        if self.norm_pix_loss:
            mean = target.mean(-1, keep_dims=True)
            centred = target - mean
            variance = (centred * centred).sum(-1, keepdims=True) / (target.shape[-1] - 1)
            target = centred * ops.rsqrt(variance + 1.0e-6)
        return target

    def construct(self, pixel_values, noise=None):
        latent, mask, ids_restore = self.vit(pixel_values, noise)
        p = self.patch_size
        rows, cols = pixel_values.shape[2] // p, pixel_values.shape[3] // p
        logits = self.decoder(latent, ids_restore, rows, cols)
        error = logits - self.pixel_targets(pixel_values)
        per_patch = (error * error).mean(-1)
        loss = (per_patch * mask).sum() / ops.maximum(mask.sum(), 1.0)
        return loss, logits, mask
