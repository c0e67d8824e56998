"""The matrix products of a GPT-2 small training step (shared by gemm.py and its PyTorch side).

Each Linear y = x W^T (x [tokens, in], W [out, in], as mf and transformers store it) costs three products a
step: the forward one, the input gradient dy W, and the weight gradient dy^T x."""


def gpt2_step_products(tokens=1024, hidden=768, ffn=3072, vocab=50257):
    layers = {"attention qkv": (hidden, 3 * hidden), "attention out": (hidden, hidden),
              "MLP up": (hidden, ffn), "MLP down": (ffn, hidden), "LM head": (hidden, vocab)}
    products = []
    for name, (inputs, outputs) in layers.items():
        # (label, a shape, b shape, transpose_a, transpose_b): out = op(a) @ op(b)
        products.append((f"{name} forward x W^T", (tokens, inputs), (outputs, inputs), False, True))
        products.append((f"{name} dx = dy W", (tokens, outputs), (outputs, inputs), False, False))
        products.append((f"{name} dW = dy^T x", (tokens, outputs), (tokens, inputs), True, False))
    return products


def flops(a_shape, b_shape, transpose_a, transpose_b):
    m, k = a_shape[::-1] if transpose_a else a_shape
    n = b_shape[0] if transpose_b else b_shape[1]
    return 2 * m * n * k
