"""mf's GEMM on a GPT-2 small training step's products where MindSpore is not installed: the kernel source
(core/src/mf/kernels/cpu_kernels.cc) built with mf's own flags into a small program (_gemm_native.cc) that calls
MatMulNT / MatMulNN / MatMulTN directly, side by side with torch.mm and the machine's measured fp32 peak.

    python3 benchmarks/gemm_native.py [--threads 2] [--cpus 0,1] [--repeats 7] [--rounds 3] [--torch-python python3]

Needs only the standard library, g++ and a Python with PyTorch (the benchmarks' reference venv by default): this
is how the GEMM is measured on another CPU kind, e.g. a lent machine with a different processor. gemm.py measures
the same products through MindSpore (mf's ops as Linear calls them, and MindSpore's MatMul). --cpus pins this
process and its children to those cores (so 2 threads on a larger machine run like the 2-core one).
"""
import argparse
import ast
import json
import os
import subprocess
import tempfile
from pathlib import Path

from _gemm_common import cpu_model, flops, gpt2_step_products, machine_peak, print_table
from _reference_env import MF_OPENMP_SETTINGS, run_reference

HERE = Path(__file__).parent
KERNELS = HERE.parent / "core" / "src" / "mf" / "kernels"
# a product's entries may differ from float64 sums by float32 rounding of its sums: relative to sum |a_ik b_kj|,
# a few 1e-7 per 1000 terms in the worst case; more means a wrong kernel, not rounding
TOLERANCE = 1e-5


def kernel_flags():
    """mf.kernels.FLAGS + X86_FLAGS (what an x86 machine builds with), read from its source: importing mf would
    import MindSpore, which this runs without."""
    tree = ast.parse((KERNELS / "__init__.py").read_text())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if getattr(target, "id", None) in ("FLAGS", "X86_FLAGS"):
                    found[target.id] = ast.literal_eval(node.value)
    if set(found) != {"FLAGS", "X86_FLAGS"}:
        raise SystemExit("FLAGS or X86_FLAGS not found in mf/kernels/__init__.py")
    return [flag for flag in found["FLAGS"] + found["X86_FLAGS"] if flag != "-fPIC"]


def mf_openmp_settings():
    """The os.environ.setdefault(name, value) pairs of mf/__init__.py (OMP_WAIT_POLICY, GOMP_SPINCOUNT), read from
    its source for the same reason: what `import mf` gives MindSpore's process."""
    tree = ast.parse((KERNELS.parent / "__init__.py").read_text())
    settings = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "setdefault" and \
                ast.unparse(node.func.value) == "os.environ":
            name, value = (ast.literal_eval(argument) for argument in node.args)
            settings[name] = value
    missing = set(MF_OPENMP_SETTINGS) - set(settings)
    if missing:
        raise SystemExit(f"{sorted(missing)} not set in mf/__init__.py")
    return settings


def build(scratch):
    binary = Path(scratch) / "gemm_native"
    subprocess.run(["g++", *kernel_flags(), f"-I{KERNELS}", str(HERE / "_gemm_native.cc"), "-o", str(binary)],
                   check=True)
    return binary


def measure_mf(binary, threads, repeats):
    """{label: GFLOP/s} of mf's kernels, under the OpenMP settings `import mf` gives MindSpore's process."""
    products = gpt2_step_products()
    lines = [f"{label.replace(' ', '_')} {int(ta)} {int(tb)} {a[0]} {a[1]} {b[0]} {b[1]}"
             for label, a, b, ta, tb in products]
    env = {**os.environ, **mf_openmp_settings(), "OMP_NUM_THREADS": str(threads)}
    out = subprocess.run([str(binary), str(repeats)], input="\n".join(lines) + "\n",
                         capture_output=True, text=True, check=True, env=env).stdout.split("\n")
    results = {}
    for (label, a_shape, b_shape, ta, tb), line in zip(products, out):
        _, seconds, error = line.split()
        if float(error) > TOLERANCE:
            raise SystemExit(f"mf's kernel is wrong on {label}: relative error {error} > {TOLERANCE}")
        results[label] = flops(a_shape, b_shape, ta, tb) / float(seconds) / 1e9
    return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cpus", help="pin to these cores, e.g. 0,1 (default: no pinning)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=1, help="measure everything this many times, keep the best")
    parser.add_argument("--torch-python", help="a Python with PyTorch (default: the benchmarks' reference venv)")
    args = parser.parse_args()
    if args.cpus:
        os.sched_setaffinity(0, {int(cpu) for cpu in args.cpus.split(",")})
    for setting in MF_OPENMP_SETTINGS:  # PyTorch and the peak run with OpenMP's defaults
        os.environ.pop(setting, None)
    # On a shared machine (a VM whose host is busy) speed can swing 2x within minutes: with --rounds the peak,
    # mf and PyTorch are measured in turn that many times and each keeps its best, so a slow period does not
    # decide the ratio
    peak, measured = 0.0, {"mf": {}, "PyTorch": {}}
    with tempfile.TemporaryDirectory() as scratch:
        binary = build(scratch)
        for _ in range(args.rounds):
            peak = max(peak, machine_peak(args.threads))
            this_round = {"mf": measure_mf(binary, args.threads, args.repeats),
                          "PyTorch": json.loads(run_reference("_torch_gemm.py", args.threads, args.repeats,
                                                              python=args.torch_python))}
            for side, rates in this_round.items():
                for label, rate in rates.items():
                    measured[side][label] = max(rate, measured[side].get(label, 0.0))
    pinned = f" pinned to cores {args.cpus}" if args.cpus else ""
    rounds = f", best of {args.rounds} interleaved rounds" if args.rounds > 1 else ""
    print(f"GPT-2 small training step products (1024 tokens), {args.threads} threads{pinned} of {cpu_model()} "
          f"({os.cpu_count()} CPUs), medians of {args.repeats}{rounds}; measured fp32 peak {peak:.0f} GFLOP/s; "
          f"mf's kernel called directly (no MindSpore)")
    print_table(measured, peak)

if __name__ == "__main__":
    main()
