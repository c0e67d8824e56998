"""What gemm.py, gemm_native.py and their PyTorch side share: the matrix products of a GPT-2 small training
step, the machine's measured fp32 peak, and the table.

Each Linear y = x W^T (x [tokens, in], W [out, in], as mf and transformers store it) costs three products a
step: the forward one, the input gradient dy W, and the weight gradient dy^T x."""
import os
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).parent


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


def print_table(measured, peak):
    """measured: {side name: {product label: GFLOP/s}}, the first side compared with the last. Prints each
    product's rate and share of the peak, then two totals by time: a layer's products + the head's, and a step
    (each layer's products 12 times, the head's once)."""
    sides = list(measured)
    first, last = sides[0], sides[-1]
    width = max(len(side) for side in sides) + 2
    print(f"{'product':34}" + "".join(f"{side + ' GFLOP/s':>{width + 8}}{'% peak':>8}" for side in sides)
          + f"{first + '/' + last:>{len(first) + len(last) + 3}}")
    ratio_width = len(first) + len(last) + 2
    seconds = {"layer + head": {side: 0.0 for side in sides}, "step": {side: 0.0 for side in sides}}
    work = {"layer + head": 0.0, "step": 0.0}

    def row(title, rates):
        print(f"{title:34}" + "".join(f"{rates[side]:{width + 8}.1f}{rates[side] / peak:8.0%}" for side in sides)
              + f"{rates[first] / rates[last]:{ratio_width}.2f}x")

    for label, a_shape, b_shape, transpose_a, transpose_b in gpt2_step_products():
        flop = flops(a_shape, b_shape, transpose_a, transpose_b)
        for total, count in (("layer + head", 1), ("step", 1 if label.startswith("LM head") else 12)):
            work[total] += count * flop
            for side in sides:
                seconds[total][side] += count * flop / (measured[side][label] * 1e9)
        row(label, {side: measured[side][label] for side in sides})
    for total, title in (("layer + head", "all products of a layer + head"), ("step", "a step (12 layers + head)")):
        row(title, {side: work[total] / seconds[total][side] / 1e9 for side in sides})


def machine_peak(threads):
    """GFLOP/s of _fma_peak.cc on `threads` threads: FMA units x vector width x clock, as the cores run it."""
    with tempfile.TemporaryDirectory() as scratch:
        binary = Path(scratch) / "fma_peak"
        subprocess.run(["g++", "-O3", "-march=native", "-fopenmp", str(HERE / "_fma_peak.cc"), "-o", str(binary)],
                       check=True)
        out = subprocess.run([str(binary), "2"], capture_output=True, text=True, check=True,
                             env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    return float(out.stdout)


def cpu_model():
    """The CPU's model name as Linux reports it (for every figure printed with a peak)."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"
