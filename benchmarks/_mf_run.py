"""`mf run` in its own process, for the benchmarks that drive the command line end to end."""
import os
import subprocess
import sys
import time


def mf_run(*options):
    """Run `mf run OPTIONS`; returns its last line (eval prints its metrics as JSON) and the minutes it took."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "mf.cli", "run", *options], capture_output=True, text=True,
                            env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    if result.returncode != 0:
        raise SystemExit(result.stderr[-4000:])
    return result.stdout.strip().splitlines()[-1], (time.perf_counter() - started) / 60
