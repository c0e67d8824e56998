"""GEMM speed on a GPT-2 small training step's products: mf (MindSpore's MatMul, as mf's Linear and its
gradient call it, in graph mode), PyTorch's torch.mm, and the machine's measured fp32 peak, in one run.

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
    def __init__(self, transpose_a, transpose_b):
        super().__init__()
        self.matmul = ops.MatMul(transpose_a=transpose_a, transpose_b=transpose_b)

    def construct(self, a, b):
        return self.matmul(a, b)


def measure_mf(repeats):
    ms.set_device("CPU")
    ms.set_context(mode=ms.GRAPH_MODE)
    rng = np.random.default_rng(0)
    results = {}
    for label, a_shape, b_shape, transpose_a, transpose_b in gpt2_step_products():
        a = Tensor(rng.standard_normal(a_shape).astype(np.float32))
        b = Tensor(rng.standard_normal(b_shape).astype(np.float32))
        product = Product(transpose_a, transpose_b)
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
    peak = machine_peak(args.threads)
    torch_results = json.loads(run_reference("_torch_gemm.py", args.threads, args.repeats))
    mf_results = measure_mf(args.repeats)
    print(f"GPT-2 small training step products (1024 tokens), {args.threads} threads, medians of {args.repeats}; "
          f"measured fp32 peak {peak:.0f} GFLOP/s")
    print(f"{'product':34}{'mf GFLOP/s':>11}{'% peak':>8}{'PyTorch':>9}{'% peak':>8}{'mf/PyTorch':>11}")
    total = {"mf": 0.0, "pt": 0.0, "flops": 0.0}
    for label, a_shape, b_shape, transpose_a, transpose_b in gpt2_step_products():
        mf, pt = mf_results[label], torch_results[label]
        work = flops(a_shape, b_shape, transpose_a, transpose_b)
        total["flops"] += work
        total["mf"] += work / mf
        total["pt"] += work / pt
        print(f"{label:34}{mf:11.1f}{mf / peak:8.0%}{pt:9.1f}{pt / peak:8.0%}{mf / pt:10.2f}x")
    mf_all, pt_all = total["flops"] / total["mf"], total["flops"] / total["pt"]
    print(f"{'all products of a layer + head':34}{mf_all:11.1f}{mf_all / peak:8.0%}{pt_all:9.1f}{pt_all / peak:8.0%}"
          f"{mf_all / pt_all:10.2f}x")


if __name__ == "__main__":
    main()
