"""GEMM speed on a GPT-2 small training step's products: mf (its blocked GEMM kernels, as Linear and its
gradient call them), MindSpore's own MatMul (what mf used before, and uses with MF_KERNELS=0), PyTorch's
torch.mm, and the machine's measured fp32 peak, in one run.

    ./dev python benchmarks/gemm.py [--threads 2] [--repeats 5]

The peak is measured, not looked up: benchmarks/_fma_peak.cc runs independent FMA chains on every thread
(FMA units x vector width x clock as the cores actually run). Prints GFLOP/s and the share of that peak.
"""
import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from mf import kernels  # first: mf sets OpenMP's wait policy before mindspore loads it
import numpy as np
import mindspore as ms
from mindspore import Tensor, nn, ops

from _gemm_shapes import flops, gpt2_step_products
from _reference_env import run_reference

HERE = Path(__file__).parent


def machine_peak(threads):
    with tempfile.TemporaryDirectory() as scratch:
        binary = Path(scratch) / "fma_peak"
        subprocess.run(["g++", "-O3", "-march=native", "-fopenmp", str(HERE / "_fma_peak.cc"), "-o", str(binary)],
                       check=True)
        out = subprocess.run([str(binary), "2"], capture_output=True, text=True, check=True,
                             env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    return float(out.stdout)


class Product(nn.Cell):
    def __init__(self, product):
        super().__init__()
        self.product = product

    def construct(self, a, b):
        return self.product(a, b)


def kernel_product(transpose_a, transpose_b):
    """mf's kernel for out = op(a) @ op(b) in the layouts of a Linear's three products."""
    name = {(False, True): "matmul", (False, False): "matmul_input_grad", (True, False): "matmul_weight_grad"}
    return kernels.op(name[(transpose_a, transpose_b)])


def measure(repeats, use_kernels):
    ms.set_device("CPU")
    ms.set_context(mode=ms.GRAPH_MODE)
    rng = np.random.default_rng(0)
    results = {}
    for label, a_shape, b_shape, transpose_a, transpose_b in gpt2_step_products():
        a = Tensor(rng.standard_normal(a_shape).astype(np.float32))
        b = Tensor(rng.standard_normal(b_shape).astype(np.float32))
        product = Product(kernel_product(transpose_a, transpose_b) if use_kernels
                          else ops.MatMul(transpose_a=transpose_a, transpose_b=transpose_b))
        product(a, b).asnumpy()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            product(a, b).asnumpy()
            times.append(time.perf_counter() - start)
        results[label] = flops(a_shape, b_shape, transpose_a, transpose_b) / sorted(times)[len(times) // 2] / 1e9
    return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if kernels.library() is None:
        raise SystemExit(f"mf's kernels are not available: {kernels.status()}")
    peak = machine_peak(args.threads)
    torch_results = json.loads(run_reference("_torch_gemm.py", args.threads, args.repeats))
    measured = {"mf": measure(args.repeats, True), "ms": measure(args.repeats, False), "pt": torch_results}
    print(f"GPT-2 small training step products (1024 tokens), {args.threads} threads, medians of {args.repeats}; "
          f"measured fp32 peak {peak:.0f} GFLOP/s")
    print(f"{'product':34}{'mf GFLOP/s':>11}{'% peak':>8}{'MindSpore':>10}{'% peak':>8}{'PyTorch':>9}{'% peak':>8}"
          f"{'mf/PyTorch':>11}")
    # time (in units of 1e-9 s) per product, and per step: a step runs each layer's products 12 times, the head's once
    nanoseconds = {"layer + head": {side: 0.0 for side in measured}, "step": {side: 0.0 for side in measured}}
    work = {"layer + head": 0.0, "step": 0.0}
    for label, a_shape, b_shape, transpose_a, transpose_b in gpt2_step_products():
        flop = flops(a_shape, b_shape, transpose_a, transpose_b)
        times = 1 if label.startswith("LM head") else 12
        row = {side: measured[side][label] for side in measured}
        for total, count in (("layer + head", 1), ("step", times)):
            work[total] += count * flop
            for side in measured:
                nanoseconds[total][side] += count * flop / row[side]
        print(f"{label:34}" + "".join(f"{row[side]:{w}.1f}{row[side] / peak:8.0%}"
                                      for side, w in (("mf", 11), ("ms", 10), ("pt", 9)))
              + f"{row['mf'] / row['pt']:10.2f}x")
    for total, title in (("layer + head", "all products of a layer + head"), ("step", "a step (12 layers + head)")):
        rate = {side: work[total] / nanoseconds[total][side] for side in measured}  # GFLOP/s
        print(f"{title:34}" + "".join(f"{rate[side]:{w}.1f}{rate[side] / peak:8.0%}"
                                      for side, w in (("mf", 11), ("ms", 10), ("pt", 9)))
              + f"{rate['mf'] / rate['pt']:10.2f}x")


if __name__ == "__main__":
    main()
