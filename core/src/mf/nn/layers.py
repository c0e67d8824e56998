"""Layers with Hugging Face parameter names (weight, bias) built from ops that
MindSpore's CPU backend has, in both PyNative and graph mode."""

import numpy as np
import mindspore as ms
from mindspore import nn, ops, Parameter
from mindspore.common.initializer import Normal, One, Zero, initializer

from .. import kernels


# Up to this many rows (tokens) a product with a weight matrix is a matrix-vector product: mf's
# kernel streams the weights once, where MindSpore's MatMul is several times slower (decoding).
SMALL_MATMUL_ROWS = 16


def leading_rows(x) -> int:
    """How many rows (tokens) x [..., features] holds: the product of its leading dimensions (static in
    graph mode, so the choice of kernel is made at compile time)."""
    rows = 1
    for size in x.shape[:-1]:
        rows *= size
    return rows


def dynamic_int8_matmul(x, weight, scale, bias=None):
    """x [..., in] @ int8 weight[out, in]^T with x quantised per row as it runs (MindSpore's ops: what
    SmallMatMulW8A8 computes when mf's kernels are off). The integer products are exact in float32 while
    127 * 127 * in < 2^24 (in <= 1040); beyond, up to float32 rounding."""
    peak = ops.abs(x).max(axis=-1, keepdims=True)
    row_scale = ops.where(peak > 0, peak / ms.Tensor(127.0, ms.float32), ops.ones_like(peak))
    q = ops.round(x / row_scale).astype(ms.float32)
    y = ops.matmul(q, weight.astype(ms.float32).T) * row_scale * scale
    return y if bias is None else y + bias


class WeightMatMul(nn.Cell):
    """x [rows, in] @ weight[out, in]^T: mf's blocked GEMM (kernels' MatMulNT, with its own gradient products;
    MindSpore's MatMul without mf's kernels), the streaming kernel for few rows.

    With scale [out], weight holds int8 values of weight-only quantisation (mf.quantization): few rows read
    them in the streaming kernel (a quarter of the bytes; x rounded per row to 16 bits, exact integer sums),
    more rows multiply by the dequantised matrix (mf's GEMM dequantises as it packs the weights; MindSpore's
    MatMul by a dequantised copy without mf's kernels).
    With int8_activations (mf.quantization, activation_dtype="int8") every product quantises x per row
    and multiplies int8 by int8 (SmallMatMulW8A8: VNNI where the CPU has it)."""

    def __init__(self):
        super().__init__()
        self.matmul = ops.MatMul(transpose_b=True)
        self.small = kernels.op("small_matmul")
        self.dense = kernels.op("matmul")
        self.dense_bias = kernels.op("matmul_bias")
        self.bias_add = kernels.op("bias_add")
        self.dense_int8 = kernels.op("matmul_int8")
        self.small_int8 = kernels.op("small_matmul_int8")
        self.int8_activations = False  # set by mf.quantization.quantize
        self.w8a8 = kernels.op("small_matmul_w8a8")

    def construct(self, x, weight, scale=None, bias=None):
        """x W^T, plus bias [out] on every row when given (inside the GEMM for many rows)."""
        if bias is None:
            return self.product(x, weight, scale)
        if scale is None and self.dense_bias is not None and x.shape[0] > SMALL_MATMUL_ROWS:
            return self.dense_bias(x, weight, bias)
        y = self.product(x, weight, scale)
        # the fused op's gradient sums over rows in one pass; MindSpore's ReduceSum is slow on CPU
        return self.bias_add(y, bias) if self.bias_add is not None else y + bias

    def product(self, x, weight, scale=None):
        if scale is not None and self.int8_activations:
            return self.w8a8(x, weight, scale) if self.w8a8 is not None else dynamic_int8_matmul(x, weight, scale)
        if scale is not None:
            if self.small_int8 is not None and x.shape[0] <= SMALL_MATMUL_ROWS:
                return self.small_int8(x, weight, scale)
            if self.dense_int8 is not None:  # the GEMM dequantises as it packs the weights
                return self.dense_int8(x, weight, scale)
            return self.matmul(x, weight.astype(ms.float32) * scale.reshape(-1, 1))
        if self.small is not None and x.shape[0] <= SMALL_MATMUL_ROWS:
            return self.small(x, weight)
        if self.dense is not None:
            return self.dense(x, weight)
        return self.matmul(x, weight)


def quantize_rows(weight: np.ndarray):
    """Symmetric int8 per row (per output channel): (values int8 [rows, cols], scale float32 [rows]) with
    weight ~= values * scale[:, None]; scale = max |row| / 127, so the largest entry of each row is exact."""
    weight = np.asarray(weight, np.float32)
    peak = np.abs(weight).max(axis=1)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    values = np.clip(np.rint(weight / scale[:, None]), -127, 127).astype(np.int8)
    return values, scale


class QuantizableWeight:
    """What Linear and Embedding share for weight-only int8: `weight` becomes int8 [rows, cols] and
    `weight_scale` float32 [rows] is added (both frozen: quantised weights are for inference). Until then
    the cell has no weight_scale attribute at all (MindSpore refuses a parameter whose name is already an
    attribute), so construct reads getattr(self, "weight_scale", None)."""

    def quantize_weights(self, compute: bool = True):
        """Replace the float32 weight by int8 values and per-row scales; compute=False only makes the
        parameters (zeros) for a quantised checkpoint to load into."""
        if getattr(self, "weight_scale", None) is not None:
            return
        name = self.weight.name
        if compute:
            values, scale = quantize_rows(self.weight.asnumpy())
        else:
            values = np.zeros(self.weight.shape, np.int8)
            scale = np.ones(self.weight.shape[0], np.float32)
        self.weight = Parameter(ms.Tensor(values), name=name, requires_grad=False)
        self.weight_scale = Parameter(ms.Tensor(scale), name=f"{name}_scale", requires_grad=False)


class Linear(QuantizableWeight, nn.Cell):
    """y = x W^T + b with W of shape [out_features, in_features] (int8 with per-row scales once
    quantize_weights() ran)."""

    # y is x W^T (+ b) and nothing else: a fused kernel may compute it from weight (and weight_scale) itself.
    # Subclasses that add to it (LoRA) or move data (tensor parallelism) set False.
    plain_product = True

    def __init__(self, in_features, out_features, bias=True, init_std=0.02):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(initializer(Normal(init_std), (out_features, in_features), ms.float32), name="weight")
        self.bias = Parameter(initializer(Zero(), (out_features,), ms.float32), name="bias") if bias else None
        self.matmul = WeightMatMul()
        self.bias_add = kernels.op("bias_add") if bias else None
        # many rows with a bias: the GEMM adds it as it writes each tile (x W^T + b in one kernel)
        self.dense_bias = kernels.op("matmul_bias") if bias else None
        self.dense_int8_bias = kernels.op("matmul_int8_bias") if bias else None
        self.small_int8 = kernels.op("small_matmul_int8_bias" if bias else "small_matmul_int8")
        self.int8_activations = False  # set by mf.quantization.quantize
        self.w8a8 = kernels.op("small_matmul_w8a8_bias" if bias else "small_matmul_w8a8")

    def construct(self, x):
        shape = x.shape
        scale = getattr(self, "weight_scale", None)
        if scale is not None and self.int8_activations:
            # dynamic int8: every row count in one kernel, on x's own shape, bias included
            if self.w8a8 is None:
                return dynamic_int8_matmul(x, self.weight, scale, self.bias)
            if self.bias is not None:
                return self.w8a8(x, self.weight, scale, self.bias)
            return self.w8a8(x, self.weight, scale)
        if scale is not None and self.small_int8 is not None and leading_rows(x) <= SMALL_MATMUL_ROWS:
            # decoding with int8 weights: one kernel for product, scale and bias, on x's own shape (each
            # kernel launch costs ~30 us on CPU, a sizeable part of a decoded token's time)
            if self.bias is not None:
                return self.small_int8(x, self.weight, scale, self.bias)
            return self.small_int8(x, self.weight, scale)
        rows = x.reshape(-1, self.in_features)
        if self.bias is not None and leading_rows(x) > SMALL_MATMUL_ROWS:
            if scale is None and self.dense_bias is not None:
                return self.dense_bias(rows, self.weight, self.bias).reshape(shape[:-1] + (self.out_features,))
            if scale is not None and self.dense_int8_bias is not None:
                y = self.dense_int8_bias(rows, self.weight, scale, self.bias)
                return y.reshape(shape[:-1] + (self.out_features,))
        y = self.matmul(rows, self.weight, scale)
        if self.bias is not None:
            # the fused op's gradient sums over rows in one pass; MindSpore's ReduceSum is slow on CPU
            y = self.bias_add(y, self.bias) if self.bias_add is not None else y + self.bias
        return y.reshape(shape[:-1] + (self.out_features,))


def can_join(layers) -> bool:
    """Whether joint_linear() can run these Linear layers as one product: plain float32 products (no int8 weights,
    no LoRA, no tensor parallelism), the same input width, a bias in all or none."""
    first = layers[0]
    for layer in layers:
        if not isinstance(layer, Linear) or not layer.plain_product or getattr(layer, "weight_scale", None) is not None:
            return False
        if layer.in_features != first.in_features or (layer.bias is None) != (first.bias is None):
            return False
    return True


def joint_linear(x, layers):
    """x [..., in] through several Linear layers that read the same x (attention's query, key and value), as one
    product over their weights stacked: [..., sum of their out_features], the layers' outputs side by side.

    One GEMM instead of several packs x once, and in the backward the input gradients are summed inside one
    product instead of an AddN after three: a small ViT's training step (6400 rows of 128) spent ~30% of its
    products' time packing and launching. The weights stay the layers' own Parameters (checkpoints, optimizer
    state and LoRA are unchanged); stacking them is a concat in the graph, small beside the activations in
    training, not when few rows are projected (callers join in training only). Check can_join() first."""
    first = layers[0]
    weight = ops.concat(tuple(layer.weight for layer in layers), 0)
    rows = x.reshape(-1, first.in_features)
    out_shape = x.shape[:-1] + (weight.shape[0],)
    if first.bias is None:
        return first.matmul(rows, weight, None).reshape(out_shape)
    bias = ops.concat(tuple(layer.bias for layer in layers), 0)
    if first.dense_bias is not None and leading_rows(x) > SMALL_MATMUL_ROWS:
        return first.dense_bias(rows, weight, bias).reshape(out_shape)
    y = first.matmul(rows, weight, None)
    y = first.bias_add(y, bias) if first.bias_add is not None else y + bias
    return y.reshape(out_shape)


class LayerNorm(nn.Cell):
    """Layer normalisation over the last axis."""

    def __init__(self, hidden_size, eps=1e-5):
        super().__init__()
        self.weight = Parameter(initializer(One(), (hidden_size,), ms.float32), name="weight")
        self.bias = Parameter(initializer(Zero(), (hidden_size,), ms.float32), name="bias")
        self.norm = ops.LayerNorm(begin_norm_axis=-1, begin_params_axis=-1, epsilon=eps)
        self.fused = kernels.op("layer_norm")
        self.eps = ms.Tensor(np.array([eps], np.float32))

    def construct(self, x):
        if self.fused is not None:
            return self.fused(x, self.weight, self.bias, self.eps)[0]
        return self.norm(x, self.weight, self.bias)[0]


class RMSNorm(nn.Cell):
    """Root-mean-square normalisation over the last axis (LLaMA)."""

    def __init__(self, hidden_size, eps=1e-6):
        super().__init__()
        self.weight = Parameter(initializer(One(), (hidden_size,), ms.float32), name="weight")
        self.eps_value = float(eps)
        self.eps = ms.Tensor(np.array([eps], np.float32))
        self.fused = kernels.op("rms_norm")

    def construct(self, x):
        if self.fused is not None:
            return self.fused(x, self.weight, self.eps)[0]
        variance = ops.mean(x * x, -1, keep_dims=True)
        return x * ops.rsqrt(variance + self.eps_value) * self.weight


class SwiGLU(nn.Cell):
    """silu(gate) * up, fused when mf's kernels are available."""

    def __init__(self):
        super().__init__()
        self.fused = kernels.op("silu_mul")

    def construct(self, gate, up):
        if self.fused is not None:
            return self.fused(gate, up)
        return ops.silu(gate) * up


class DecodeGatedFeedForward(nn.Cell):
    """A decoded token's gated feed-forward, down(silu(gate(x)) * up(x)), in one kernel (GatedFeedForward*)
    where the unfused layer launches four (each ~15-30 us in MindSpore's CPU runtime); for inputs of up to
    SMALL_MATMUL_ROWS rows. Weights come as the Linear layers hold them (float32 with scales None, or int8
    with per-row scales; dynamic_int8: their int8_activations). fits(x, gate, up, down): few enough rows in x,
    kernels built and plain Linear layers without bias (not LoRA-adapted nor split by tensor parallelism).
    Given an RMSNorm's weight and eps (norm_weight, norm_eps), x is a pre-norm block's residual stream and the
    result is x + feed_forward(rms_norm(x)): the block's second half in one launch where it took three."""

    def __init__(self):
        super().__init__()
        self.no_scale = ms.Tensor(np.ones(1, np.float32))  # what a float32 model passes for the scales
        self.float32 = kernels.op("gated_feed_forward")
        self.int8 = kernels.op("gated_feed_forward_int8")
        self.dynamic_int8 = kernels.op("gated_feed_forward_w8a8")
        self.float32_pre_norm = kernels.op("gated_feed_forward_pre_norm")
        self.int8_pre_norm = kernels.op("gated_feed_forward_int8_pre_norm")
        self.dynamic_int8_pre_norm = kernels.op("gated_feed_forward_w8a8_pre_norm")

    def fits(self, x, gate, up, down) -> bool:
        plain = gate.plain_product and up.plain_product and down.plain_product
        unbiased = gate.bias is None and up.bias is None and down.bias is None
        return self.float32 is not None and leading_rows(x) <= SMALL_MATMUL_ROWS and plain and unbiased

    def construct(self, x, gate, gate_scale, up, up_scale, down, down_scale, dynamic_int8, norm_weight=None,
                  norm_eps=None):
        if gate_scale is None:
            gate_scale = up_scale = down_scale = self.no_scale
            kernel = self.float32 if norm_weight is None else self.float32_pre_norm
        elif dynamic_int8:
            kernel = self.dynamic_int8 if norm_weight is None else self.dynamic_int8_pre_norm
        else:
            kernel = self.int8 if norm_weight is None else self.int8_pre_norm
        if norm_weight is None:
            return kernel(x, gate, gate_scale, up, up_scale, down, down_scale)
        return kernel(x, gate, gate_scale, up, up_scale, down, down_scale, norm_weight, norm_eps)


class Embedding(QuantizableWeight, nn.Cell):
    """A lookup table of shape [num_embeddings, embedding_dim] (int8 rows with per-row scales once
    quantize_weights() ran: a tied output head quantised with its embedding)."""

    def __init__(self, num_embeddings, embedding_dim, init_std=0.02):
        super().__init__()
        self.weight = Parameter(initializer(Normal(init_std), (num_embeddings, embedding_dim), ms.float32),
                                name="weight")

    def construct(self, ids):
        scale = getattr(self, "weight_scale", None)
        if scale is not None:
            return ops.gather(self.weight, ids, 0).astype(ms.float32) * ops.gather(scale, ids, 0).expand_dims(-1)
        return ops.gather(self.weight, ids, 0)


class Identity(nn.Cell):
    """Returns its input (a place where model parallelism inserts communication)."""

    def construct(self, x):
        return x


class Gelu(nn.Cell):
    """GELU on a fused kernel: approximate="tanh" (GPT-2's gelu_new) or "none" (exact, x * Phi(x), BERT's)."""

    KERNELS = {"tanh": "gelu_tanh", "none": "gelu_erf"}

    def __init__(self, approximate: str = "tanh"):
        super().__init__()
        self.approximate = approximate
        self.fused = kernels.op(self.KERNELS[approximate])

    def construct(self, x):
        if self.fused is not None:
            return self.fused(x)
        return ops.gelu(x, approximate=self.approximate)


class Elementwise(nn.Cell):
    """An activation function that MindSpore's own op computes well enough."""

    def __init__(self, function):
        super().__init__()
        self.function = function

    def construct(self, x):
        return self.function(x)


_ACTIVATIONS = {
    "quick_gelu": lambda: Elementwise(quick_gelu),
    # MindSpore's FastGelu (x / (1 + exp(-1.702|x|)) * exp(0.851 (x - |x|))) is the same function as quick_gelu
    "fast_gelu": lambda: Elementwise(quick_gelu),
    "gelu_new": lambda: Gelu("tanh"),
    "gelu_pytorch_tanh": lambda: Gelu("tanh"),
    "gelu_fast": lambda: Gelu("tanh"),
    "gelu": lambda: Gelu("none"),
    "relu": lambda: Elementwise(ops.relu),
    "silu": lambda: Elementwise(ops.silu),
    "swish": lambda: Elementwise(ops.silu),
}


def activation(name) -> nn.Cell:
    """A Cell computing the activation called `name` (Hugging Face spelling)."""
    try:
        return _ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation '{name}'; known: {', '.join(sorted(_ACTIVATIONS))}") from None


def quick_gelu(x):
    """x * sigmoid(1.702 x): OpenAI CLIP's approximation of GELU."""
    return x * ops.sigmoid(1.702 * x)


def normalize(x):
    """x / ||x|| over the last axis (L2)."""
    return x * ops.rsqrt((x * x).sum(-1, keepdims=True))
