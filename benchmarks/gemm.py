"""GEMM speed on a GPT-2 small training step's products: mf (its blocked GEMM kernels, as Linear and its
gradient call them), MindSpore's own MatMul (what mf used before, and uses with MF_KERNELS=0), PyTorch's
torch.mm, and the machine's measured fp32 peak, in one run.

    ./dev python benchmarks/gemm.py [--threads 2] [--repeats 5]

The peak is measured, not looked up: benchmarks/_fma_peak.cc runs independent FMA chains on every thread
(FMA units x vector width x clock as the cores actually run). Prints GFLOP/s and the share of that peak. On a CPU
with AMX, mf's products run on its tiles (mf.kernels.gemm_kind()) and can pass the FMA peak.
"""
import argparse
import json
import time

from mf import kernels  # first: mf sets OpenMP's wait policy before mindspore loads it
import numpy as np
import mindspore as ms
from mindspore import Tensor, nn, ops

from _gemm_common import cpu_model, flops, gpt2_step_products, machine_peak, print_table
from _reference_env import run_reference


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
    measured = {"mf": measure(args.repeats, True), "MindSpore": measure(args.repeats, False),
                "PyTorch": torch_results}
    print(f"GPT-2 small training step products (1024 tokens), {args.threads} threads of {cpu_model()}, medians of "
          f"{args.repeats}; measured fp32 peak {peak:.0f} GFLOP/s")
    print_table(measured, peak)
    if kernels.gemm_kind() == "amx-bf16x6":
        print("mf's products ran on AMX tiles (three bfloat16 per value, float32's accuracy): above the FMA peak is "
              "possible there; MF_GEMM=fp32 measures its FMA kernel")

if __name__ == "__main__":
    main()
