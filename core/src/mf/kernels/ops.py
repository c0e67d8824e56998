"""The Custom op definitions over the kernel library: shapes, dtypes and gradients."""
import mindspore as ms
from mindspore import ops

from ..errors import MFError


# The kernels read floating-point inputs as float32 (int8 weights, int32 indices and int64 seeds are integers):
# a Custom op checks nothing, so a float64 tensor would be read as twice as many wrong float32 values
_NOT_FLOAT32 = (ms.float64, ms.float16, ms.bfloat16)


def _checked_dtypes(function, out_dtype):
    def infer(*dtypes):
        for position, dtype in enumerate(dtypes):
            element = dtype.element_type() if hasattr(dtype, "element_type") else dtype
            if element in _NOT_FLOAT32:
                raise MFError(f"mf kernel {function}: input {position} is {element}, but mf's CPU kernels compute in "
                              f"float32; cast it with .astype(mindspore.float32) (or set MF_KERNELS=0 to use "
                              f"MindSpore's own ops)")
        return out_dtype(*dtypes)

    return infer


def _custom(library, function, out_shape, out_dtype, bprop=None):
    return ops.Custom(f"{library}:{function}", out_shape=out_shape, out_dtype=_checked_dtypes(function, out_dtype),
                      func_type="aot", bprop=bprop)


def _rows(shape):
    rows = 1
    for d in shape[:-1]:
        rows *= d
    return rows


# by the kind of the q/k/v weights: float32, weight-only int8, dynamic int8
PROJECTED_DECODE_ATTENTION = {"projected_decode_attention": "ProjectedDecodeAttention",
                              "projected_decode_attention_int8": "ProjectedDecodeAttentionInt8",
                              "projected_decode_attention_w8a8": "ProjectedDecodeAttentionW8A8"}

# the same kinds, alone or as a pre-norm block's second half (_pre_norm: the RMSNorm's weight and eps as two more
# inputs, the residual added to the output)
GATED_FEED_FORWARD = {f"gated_feed_forward{kind}{norm}": f"GatedFeedForward{suffix}{norm_suffix}"
                      for kind, suffix in (("", ""), ("_int8", "Int8"), ("_w8a8", "W8A8"))
                      for norm, norm_suffix in (("", ""), ("_pre_norm", "PreNorm"))}


def build(name, library):
    f32 = ms.float32
    if name == "cross_entropy":
        backward = _custom(library, "CrossEntropyBackward", lambda x, y, l, d: x, lambda x, y, l, d: f32)

        def bprop(logits, labels, out, dout):
            return backward(logits, labels, out[1], dout[0]), ops.zeros_like(labels)

        return _custom(library, "CrossEntropyForward", lambda x, y: ([_rows(x)], [_rows(x)]),
                       lambda x, y: (f32, f32), bprop)
    if name in ("gelu_tanh", "gelu_erf"):
        kernel = {"gelu_tanh": "GeluTanh", "gelu_erf": "GeluErf"}[name]
        backward = _custom(library, f"{kernel}Backward", lambda x, d: x, lambda x, d: f32)

        def bprop(x, out, dout):
            return (backward(x, dout),)

        return _custom(library, f"{kernel}Forward", lambda x: x, lambda x: f32, bprop)
    if name == "layer_norm":
        backward = _custom(library, "LayerNormBackward",
                           lambda x, g, m, r, d: (x, g, g), lambda x, g, m, r, d: (f32, f32, f32))

        def bprop(x, gamma, beta, eps, out, dout):
            dx, dgamma, dbeta = backward(x, gamma, out[1], out[2], dout[0])
            return dx, dgamma, dbeta, ops.zeros_like(eps)

        return _custom(library, "LayerNormForward", lambda x, g, b, e: (x, [_rows(x)], [_rows(x)]),
                       lambda x, g, b, e: (f32, f32, f32), bprop)
    if name == "rms_norm":
        backward = _custom(library, "RmsNormBackward", lambda x, w, r, d: (x, w), lambda x, w, r, d: (f32, f32))

        def bprop(x, weight, eps, out, dout):
            dx, dweight = backward(x, weight, out[1], dout[0])
            return dx, dweight, ops.zeros_like(eps)

        return _custom(library, "RmsNormForward", lambda x, w, e: (x, [_rows(x)]), lambda x, w, e: (f32, f32), bprop)
    if name == "silu_mul":
        backward = _custom(library, "SiluMulBackward", lambda g, u, d: (g, g), lambda g, u, d: (f32, f32))

        def bprop(gate, up, out, dout):
            return backward(gate, up, dout)

        return _custom(library, "SiluMulForward", lambda g, u: g, lambda g, u: f32, bprop)
    if name == "matmul_input_grad":  # dy [rows, out] W, W [out, in]
        return _custom(library, "MatMulNN", lambda d, w: d[:-1] + [w[1]], lambda d, w: f32)
    if name == "matmul_weight_grad":  # dy [rows, out]^T x [rows, in]
        return _custom(library, "MatMulTN", lambda d, x: [d[-1], x[-1]], lambda d, x: f32)
    if name in ("matmul", "small_matmul"):
        # x [rows, in] W^T with W [out, in]: the blocked GEMM for many rows (training, prefill), the streaming
        # kernel for a few (decoding); both take their gradients from the blocked GEMM's other two layouts
        data_grad = build("matmul_input_grad", library)
        weight_grad = build("matmul_weight_grad", library)

        def bprop(x, weight, out, dout):
            return data_grad(dout, weight), weight_grad(dout, x)

        if name == "small_matmul":  # x is [rows, in]
            return _custom(library, "SmallMatMul", lambda x, w: [x[0], w[0]], lambda x, w: f32, bprop)
        return _custom(library, "MatMulNT", lambda x, w: x[:-1] + [w[0]], lambda x, w: f32, bprop)
    if name == "matmul_bias":  # x [rows, in] W^T + b in one pass: the bias lands on each tile as it is written
        data_grad = build("matmul_input_grad", library)
        weight_grad = build("matmul_weight_grad", library)
        column_sum = _custom(library, "ColumnSum", lambda d: [d[-1]], lambda d: f32)

        def bprop(x, weight, bias, out, dout):
            return data_grad(dout, weight), weight_grad(dout, x), column_sum(dout)

        return _custom(library, "MatMulNTBias", lambda x, w, b: x[:-1] + [w[0]], lambda x, w, b: f32, bprop)
    if name == "matmul_int8_bias":
        return _custom(library, "MatMulNTInt8Bias", lambda x, w, s, b: x[:-1] + [w[0]], lambda x, w, s, b: f32)
    if name == "matmul_int8":  # x [rows, in] (w * scale)^T, many rows (inference only, like every int8 op)
        return _custom(library, "MatMulNTInt8", lambda x, w, s: x[:-1] + [w[0]], lambda x, w, s: f32)
    if name == "small_matmul_int8":  # inference only: quantised weights are not trained
        return _custom(library, "SmallMatMulInt8", lambda x, w, s: x[:-1] + [w[0]], lambda x, w, s: f32)
    if name == "small_matmul_int8_bias":
        return _custom(library, "SmallMatMulInt8Bias", lambda x, w, s, b: x[:-1] + [w[0]], lambda x, w, s, b: f32)
    if name == "small_matmul_w8a8":  # int8 weights and activations (quantised per row as it runs)
        return _custom(library, "SmallMatMulW8A8", lambda x, w, s: x[:-1] + [w[0]], lambda x, w, s: f32)
    if name == "small_matmul_w8a8_bias":
        return _custom(library, "SmallMatMulW8A8Bias", lambda x, w, s, b: x[:-1] + [w[0]], lambda x, w, s, b: f32)
    if name == "bias_add":
        column_sum = _custom(library, "ColumnSum", lambda d: [d[-1]], lambda d: f32)

        def bprop(x, bias, out, dout):
            return dout, column_sum(dout)

        return _custom(library, "BiasAddForward", lambda x, b: x, lambda x, b: f32, bprop)
    if name == "rotary":
        backward = _custom(library, "RotaryBackward", lambda d, c, s: d, lambda d, c, s: f32)

        def bprop(x, cos, sin, out, dout):
            return backward(dout, cos, sin), ops.zeros_like(cos), ops.zeros_like(sin)

        return _custom(library, "RotaryForward", lambda x, c, s: x, lambda x, c, s: f32, bprop)
    if name == "attention":
        backward = _custom(library, "AttentionBackward", lambda q, k, v, b, s, o, d: (q, k, v),
                           lambda q, k, v, b, s, o, d: (f32, f32, f32))

        def bprop(query, key, value, bias, scale, out, dout):
            dq, dk, dv = backward(query, key, value, bias, scale, out, dout)
            return dq, dk, dv, ops.zeros_like(bias), ops.zeros_like(scale)

        return _custom(library, "AttentionForward", lambda q, k, v, b, s: q, lambda q, k, v, b, s: f32, bprop)
    if name == "packed_attention":  # qkv [B, T, 3, H, D] read in place; out [B, T, H, D]
        backward = _custom(library, "PackedAttentionBackward", lambda qkv, b, s, o, d: qkv,
                           lambda qkv, b, s, o, d: f32)

        def bprop(qkv, bias, scale, out, dout):
            return backward(qkv, bias, scale, out, dout), ops.zeros_like(bias), ops.zeros_like(scale)

        return _custom(library, "PackedAttentionForward", lambda qkv, b, s: qkv[:2] + qkv[3:],
                       lambda qkv, b, s: f32, bprop)
    if name == "cached_attention":  # inference only: heads-major q [B, H, T, D] over caches k, v [B, G, L, D]
        return _custom(library, "CachedAttentionForward", lambda q, k, v, b, s: q, lambda q, k, v, b, s: f32)
    if name == "prefill_attention":  # inference only; token-major q, k, v; writes the caches (inputs 3, 4) in place
        return _custom(library, "PrefillAttention", lambda q, k, v, kc, vc, i, b, s: q,
                       lambda q, k, v, kc, vc, i, b, s: f32)
    if name == "decode_attention":  # inference only; writes the caches (inputs 3, 4) in place
        return _custom(library, "DecodeAttention", lambda q, k, v, kc, vc, i, b, s: q,
                       lambda q, k, v, kc, vc, i, b, s: f32)
    if name in PROJECTED_DECODE_ATTENTION:  # inference only; writes the caches (inputs 11, 12) in place
        return _custom(library, PROJECTED_DECODE_ATTENTION[name],
                       lambda x, wq, sq, wk, sk, wv, sv, wo, so, c, s, kc, vc, i, b, sc: [x[0], x[1], wo[0]],
                       lambda x, wq, sq, wk, sk, wv, sv, wo, so, c, s, kc, vc, i, b, sc: f32)
    if name in GATED_FEED_FORWARD:  # inference only; x, w1, s1, w3, s3, w2, s2[, norm, eps]
        return _custom(library, GATED_FEED_FORWARD[name], lambda x, *rest: x[:-1] + [rest[4][0]],
                       lambda *dtypes: f32)
    if name == "dropout":
        apply_mask = _custom(library, "DropoutApply", lambda x, s, t: x, lambda x, s, t: f32)

        def bprop(x, seed, threshold, out, dout):  # the same mask on the gradient, recomputed from the seed
            return apply_mask(dout, seed, threshold), ops.zeros_like(seed), ops.zeros_like(threshold)

        return _custom(library, "DropoutApply", lambda x, s, t: x, lambda x, s, t: f32, bprop)
    if name == "adamw_update":  # writes param, m and v (inputs 0-2) in place; the output is a [1] token
        update = _custom(library, "AdamWUpdate", lambda p, m, v, g, s: [1], lambda p, m, v, g, s: f32)
        update.add_prim_attr("side_effect_mem", True)
        return update
    if name == "sum_of_squares":
        return _custom(library, "SumOfSquares", lambda x: [1], lambda x: f32)
    raise KeyError(f"no kernel named {name}")
