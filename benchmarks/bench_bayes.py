"""Benchmark of the oracle denoisers in ``icdenoise.bayes`` (paper Props. 2-4) at paper settings.

n = 16; subspace d = 8; sphere S^8 (d = 8, 9-dim span); mixture p = 8. Each denoiser is timed on a batch of
``--prompts`` prompts (default 1000) given as the sampler's float32 arrays (the float64 conversion is part of the
timing), ``--repeats`` times, on one BLAS/OpenMP thread; prints the median and best µs per prompt and the
per-component MSE on that batch. Target: ≤ 5 µs per prompt.

    python benchmarks/bench_bayes.py
    python benchmarks/bench_bayes.py --prompts 100000 --repeats 5
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported: one thread

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from icdenoise import bayes  # noqa: E402
from icdenoise.tasks import sample_prompts  # noqa: E402

N = 16
PARAMS = {
    "subspace": dict(d=8, sigma0_2=2.0, sigma_z2=1.0),
    "sphere": dict(d=8, R=1.0, sigma_z2=0.1),
    "gmm": dict(p=8, R=1.0, sigma0_2=0.02, sigma_z2=0.1),
}


def denoisers(case: str, batch):
    """(name, zero-argument callable) for every oracle of ``case`` on ``batch``."""
    xq, p = batch.x_query, PARAMS[case]
    if case == "subspace":
        U = batch.task["basis"]
        return [
            ("bayes_optimal_subspace", lambda: bayes.bayes_optimal_subspace(xq, U, p["sigma0_2"], p["sigma_z2"])),
            ("projection_subspace", lambda: bayes.projection_subspace(xq, U)),
        ]
    if case == "sphere":
        V = batch.task["basis"]
        return [
            ("bayes_optimal_sphere", lambda: bayes.bayes_optimal_sphere(xq, V, p["R"], p["sigma_z2"])),
            ("projection_sphere", lambda: bayes.projection_sphere(xq, V, p["R"])),
        ]
    mu, w = batch.task["centres"], batch.task["weights"]
    return [
        ("bayes_optimal_gmm", lambda: bayes.bayes_optimal_gmm(xq, mu, w, p["sigma0_2"], p["sigma_z2"])),
        ("bayes_optimal_gmm_sigma0_to_0", lambda: bayes.bayes_optimal_gmm_sigma0_to_0(xq, mu, w, p["sigma_z2"])),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=21)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    try:  # belt and braces where threadpoolctl is installed
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass

    print(f"n={N}, {args.prompts} prompts, {args.repeats} repeats, 1 thread; target <= 5 us/prompt")
    print(f"{'denoiser':32s} {'median us/prompt':>17s} {'best us/prompt':>15s} {'MSE/n':>10s}")
    for case in PARAMS:
        batch = sample_prompts(case, args.prompts, args.seed, N, 1, **PARAMS[case])
        for name, fn in denoisers(case, batch):
            fn()  # warm-up
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                out = fn()
                times.append(time.perf_counter() - t0)
            us = [t / args.prompts * 1e6 for t in times]
            mse = float(np.mean(bayes.mse_per_component(out, batch.x_target)))
            flag = "" if statistics.median(us) <= 5.0 else "  (over target)"
            print(f"{name:32s} {statistics.median(us):17.3f} {min(us):15.3f} {mse:10.5f}{flag}")


if __name__ == "__main__":
    main()
