"""Cold and warm cost of the fused kernels in a fresh process: import, JIT compile (cold) or cache load (warm).

    python benchmarks/bench_jit.py [--repeats 3]

Each measurement is a new Python process that imports ``icdenoise.kernels_numba`` (numba) and runs both float32 kernels
and the Adam step once (``kernels.warm_up()``), as every training job's process does. "cold": the numba
on-disk cache of icdenoise.kernels is deleted first (first run after an install or a source change);
"warm": the cache is there. Prints medians of wall and CPU seconds (import, first call) and the path of
the cache. Needs write access to the cache directory (next to kernels.py, or $NUMBA_CACHE_DIR).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = r"""
import json, time, resource
w0, c0 = time.perf_counter(), time.process_time()
import numpy as np
from icdenoise import kernels_numba as kernels
w1, c1 = time.perf_counter(), time.process_time()
kernels.warm_up(np.float32)
w2, c2 = time.perf_counter(), time.process_time()
print(json.dumps({"import_wall": w1 - w0, "import_cpu": c1 - c0, "first_call_wall": w2 - w1,
                  "first_call_cpu": c2 - c1, "cache": kernels.cache_dir()}))
"""


def run_child() -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from icdenoise import kernels_numba as kernels

    rows = {"cold": [], "warm": []}
    for _ in range(args.repeats):
        kernels.clear_cache()
        rows["cold"].append(run_child())
        rows["warm"].append(run_child())
    print(f"numba cache: {rows['warm'][0]['cache']}")
    for kind, rs in rows.items():
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0] if k != "cache"}
        print(
            f"{kind}: import icdenoise.kernels_numba (numba) wall {med['import_wall']:.3f} s "
            f"cpu {med['import_cpu']:.3f} s | first call (compile or cache load) "
            f"wall {med['first_call_wall']:.3f} s cpu {med['first_call_cpu']:.3f} s"
        )


if __name__ == "__main__":
    main()
