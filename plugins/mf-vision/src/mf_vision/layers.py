"""Building blocks the vision families share: patch embedding (plain or after a convolutional stem),
position-embedding resizing, drop path, MLP.

Everything here is computed from static shapes inside the graph, so a model compiles once per image size
and needs no per-size tables prepared outside it.
"""
import mindspore as ms
from mindspore import nn, ops, Parameter
from mindspore.common.initializer import Normal, Zero, initializer

from mf.nn import Linear, WeightMatMul, activation

# the cubic convolution constant of PyTorch's (and OpenCV's) bicubic interpolation
CUBIC_A = -0.75


def project_patches(pixel_values, projection, patch_size, channels_last=False):
    """A convolution with kernel = stride = patch_size as one matrix product over flattened patches (no padding:
    pixels past the last whole patch are dropped, as the strided convolution does).
    [B, C, H, W], or [B, H, W, C] with channels_last (a convolutional stem's output) -> ([B, h * w, hidden], h, w)
    with h = H // p, w = W // p; projection: ProjectionWeights (weight [hidden, C, p, p], bias [hidden] or None:
    CLIP's patch embedding has none). The product is mf's GEMM with the bias inside."""
    if channels_last:
        batch, height, width, channels = pixel_values.shape
    else:
        batch, channels, height, width = pixel_values.shape
    p = patch_size
    rows, cols = height // p, width // p
    weight = projection.weight
    hidden = weight.shape[0]
    x = pixel_values
    if rows * p != height or cols * p != width:  # a strided slice copies even when it keeps everything
        x = x[:, :rows * p, :cols * p, :] if channels_last else x[:, :, :rows * p, :cols * p]
    if not channels_last:
        x = x.reshape(batch, channels, rows, p, cols, p).transpose(0, 2, 4, 1, 3, 5)
    elif p > 1:  # patches flattened as (row, column, channel), and the weight likewise
        x = x.reshape(batch, rows, p, cols, p, channels).transpose(0, 1, 3, 2, 4, 5)
        weight = weight.transpose(0, 2, 3, 1)
    # with channels last and p = 1 the pixels are the patches: no copy (a stem's output ran through two
    # transposes and a strided slice here, 6% of a small ViT's step)
    out = projection.matmul(x.reshape(batch * rows * cols, channels * p * p), weight.reshape(hidden, -1), None,
                            projection.bias)
    return out.reshape(batch, rows * cols, hidden), rows, cols


class PatchEmbeddings(nn.Cell):
    """Non-overlapping patches -> vectors (project_patches). The weight keeps the convolution's shape
    [hidden, channels, p, p] and the Hugging Face name `projection`."""

    def __init__(self, num_channels: int, hidden_size: int, patch_size: int, init_std: float = 0.02):
        super().__init__()
        self.patch_size = patch_size
        self.hidden_size = hidden_size
        self.projection = ProjectionWeights(num_channels, hidden_size, patch_size, init_std)

    def construct(self, pixel_values):
        """[B, C, H, W] -> ([B, h * w, hidden], h, w) with h = H // p, w = W // p."""
        return project_patches(pixel_values, self.projection, self.patch_size)


class ProjectionWeights(nn.Cell):
    """The patch convolution's parameters (weight [hidden, C, p, p], bias [hidden] unless bias=False) and the
    product that applies them (project_patches)."""

    def __init__(self, num_channels, hidden_size, patch_size, init_std, bias=True):
        super().__init__()
        self.weight = Parameter(initializer(Normal(init_std), (hidden_size, num_channels, patch_size, patch_size),
                                            ms.float32), name="weight")
        self.bias = Parameter(initializer(Zero(), (hidden_size,), ms.float32), name="bias") if bias else None
        self.matmul = WeightMatMul()


def conv3x3_stride2(x, weight, bias, matmul):
    """A 3x3 convolution with stride 2 and one pixel of zero padding, as nn.Conv2d(c, o, 3, 2, 1) computes it,
    on channels-last images: [B, H, W, C] -> [B, ceil(H / 2), ceil(W / 2), O]; weight [O, C, 3, 3], bias [O];
    matmul a WeightMatMul (mf's GEMM, the bias inside).

    Written as one gather of the nine pixels under each output position (im2col) and one matrix product:
    MindSpore's CPU convolution backward takes ~6x longer on these shapes, and the gradients of the slices
    that would cut the nine shifted views fail on CPU (strided slices) or crashed a training run after 135
    steps with a heap error (rows and columns folded into pairs, then plain slices)."""
    batch, height, width, channels = x.shape
    rows, cols = (height + 1) // 2, (width + 1) // 2
    offsets = ops.arange(0, 3, dtype=ms.int32) - 1
    source_rows = (2 * ops.arange(0, rows, dtype=ms.int32)).reshape(rows, 1) + offsets  # [rows, 3]
    source_cols = (2 * ops.arange(0, cols, dtype=ms.int32)).reshape(cols, 1) + offsets  # [cols, 3]
    inside = ((source_rows >= 0) & (source_rows < height)).reshape(rows, 1, 3, 1) & \
        ((source_cols >= 0) & (source_cols < width)).reshape(1, cols, 1, 3)
    pixel = source_rows.reshape(rows, 1, 3, 1) * width + source_cols.reshape(1, cols, 1, 3)
    index = ops.where(inside, pixel, height * width).reshape(-1)  # the padding reads an appended zero pixel
    pixels = ops.concat((x.reshape(batch, height * width, channels), ops.zeros((batch, 1, channels), x.dtype)), 1)
    patches = ops.gather(pixels, index, 1).reshape(batch * rows * cols, 9 * channels)  # (kernel row, col, channel)
    out_channels = weight.shape[0]
    kernel = weight.transpose(0, 2, 3, 1).reshape(out_channels, 9 * channels)  # [O, (kernel row, col, channel)]
    return matmul(patches, kernel, None, bias).reshape(batch, rows, cols, out_channels)


class StemConvolution(nn.Cell):
    """One 3x3 stride-2 convolution of a convolutional stem (weight [out, in, 3, 3], bias [out]); He-normal
    initial weights, as for the ReLU convolutions of a ResNet stem."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        std = (2.0 / (9 * in_channels)) ** 0.5
        self.weight = Parameter(initializer(Normal(std), (out_channels, in_channels, 3, 3), ms.float32), name="weight")
        self.bias = Parameter(initializer(Zero(), (out_channels,), ms.float32), name="bias")
        self.matmul = WeightMatMul()

    def construct(self, x):
        """[B, H, W, in] channels-last -> [B, ceil(H / 2), ceil(W / 2), out]."""
        return conv3x3_stride2(x, self.weight, self.bias, self.matmul)


class ConvStemPatchEmbeddings(nn.Cell):
    """Early convolutions (Xiao et al. 2021, "Early Convolutions Help Transformers See Better"): a stack of
    3x3 stride-2 convolutions with ReLU (one per entry of stem_channels, each halving the image) before the
    patch projection, which then covers patch_size / 2**len(stem_channels) of the stem's output. The tokens
    form the same grid as the plain patch embedding's; the model gains the locality that a small ViT trained
    from scratch on a small data set lacks. No normalisation between the convolutions: it would add running
    statistics, and a stem of two or three convolutions trains without it."""

    def __init__(self, num_channels: int, stem_channels, hidden_size: int, patch_size: int, init_std: float = 0.02):
        super().__init__()
        widths = [num_channels] + list(stem_channels)
        self.stem = nn.CellList([StemConvolution(widths[i], widths[i + 1]) for i in range(len(stem_channels))])
        self.patch_size = patch_size // 2 ** len(stem_channels)
        self.hidden_size = hidden_size
        self.projection = ProjectionWeights(widths[-1], hidden_size, self.patch_size, init_std)

    def construct(self, pixel_values):
        """[B, C, H, W] -> ([B, h * w, hidden], h, w)."""
        x = pixel_values.transpose(0, 2, 3, 1)
        for convolution in self.stem:
            x = ops.relu(convolution(x))
        return project_patches(x, self.projection, self.patch_size, channels_last=True)


def _cubic_near(x):
    """The cubic kernel for |x| <= 1."""
    return ((CUBIC_A + 2) * x - (CUBIC_A + 3)) * x * x + 1


def _cubic_far(x):
    """The cubic kernel for 1 < |x| < 2."""
    return ((CUBIC_A * x - 5 * CUBIC_A) * x + 8 * CUBIC_A) * x - 4 * CUBIC_A


def bicubic_matrix(in_size: int, out_size: int):
    """[out_size, in_size] weights of 1-D bicubic resampling as torch.nn.functional.interpolate(mode="bicubic",
    align_corners=False) computes it (half-pixel centres, A = -0.75, edge samples repeated)."""
    scale = in_size / out_size
    source = (ops.arange(0, out_size, dtype=ms.float32) + 0.5) * scale - 0.5
    floor = ops.floor(source)
    t = source - floor
    start = floor.astype(ms.int32)
    weights = (_cubic_far(t + 1), _cubic_near(t), _cubic_near(1 - t), _cubic_far(2 - t))
    matrix = ops.zeros((out_size, in_size), ms.float32)
    for offset, weight in zip((-1, 0, 1, 2), weights):
        index = ops.clip(start + offset, 0, in_size - 1)
        matrix = matrix + ops.one_hot(index, in_size, ms.Tensor(1.0, ms.float32), ms.Tensor(0.0, ms.float32)) * \
            weight.reshape(out_size, 1)
    return matrix


def resize_position_grid(grid, rows: int, cols: int):
    """A square grid of position embeddings [g * g, D] resized bicubically to [rows * cols, D]."""
    size, dim = grid.shape
    side = int(round(size ** 0.5))
    if side * side != size:
        raise ValueError(f"position embeddings for {size} patches do not form a square grid")
    if rows == side and cols == side:
        return grid
    grid = grid.reshape(side, side * dim)
    grid = ops.matmul(bicubic_matrix(side, rows), grid).reshape(rows, side, dim)  # along the rows
    grid = grid.transpose(1, 0, 2).reshape(side, rows * dim)
    grid = ops.matmul(bicubic_matrix(side, cols), grid).reshape(cols, rows, dim)  # along the columns
    return grid.transpose(1, 0, 2).reshape(rows * cols, dim)


class DropPath(nn.Cell):
    """Stochastic depth: in training, a residual branch is dropped for a whole example with probability p
    (the kept ones scaled by 1 / (1 - p)); a no-op in evaluation and when p == 0."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = float(p)

    def construct(self, x):
        if self.training and self.p > 0:
            keep = ops.dropout(ops.ones((x.shape[0],) + (1,) * (x.ndim - 1), x.dtype), p=self.p, training=True)
            return x * keep
        return x


class MLP(nn.Cell):
    """fc1 -> activation -> fc2 (DINOv2's and CLIP's MLP, with their parameter names)."""

    def __init__(self, config):
        super().__init__()
        std = config.initializer_range
        self.fc1 = Linear(config.hidden_size, config.intermediate_size, init_std=std)
        self.act = activation(config.hidden_act)
        self.fc2 = Linear(config.intermediate_size, config.hidden_size, init_std=std)

    def construct(self, x):
        return self.fc2(self.act(self.fc1(x)))
