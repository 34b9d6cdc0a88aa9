"""Benchmark and minima of the Fig. 6 α–β landscapes (App. F) at paper scale.

Paper scale: n = 16, L = 500, 800 prompts, 50 × 50 grid of W_KQ = βI, W_PV = αI. For each case prints the
median wall time of ``alpha_beta_landscape`` (sampling excluded) for each torch thread count, the grid minimum,
the continuous optimum (α solved exactly per β, Brent over β), the per-prompt standard error of the MSE there, and
the expected minimum from experiments.md. ``--seeds`` repeats the minima over several 800-prompt samples and
``--big`` evaluates one large sample, to separate sampling noise from grid effects.

    python benchmarks/bench_landscape.py                      # timings + minima, seed 0
    python benchmarks/bench_landscape.py --seeds 0 1 2 3 4 --big 20000
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time

import numpy as np
import torch

from icdenoise.landscape import alpha_beta_landscape, optimal_scaled_identity
from icdenoise.models import scaled_identity_weights, softmax_attention
from icdenoise.tasks import derive_seed, sample_prompts

CASES = {
    "subspace": dict(d=8, sigma0_2=2.0, sigma_z2=1.0),
    "sphere": dict(d=8, R=1.0, sigma_z2=0.1),
    "gmm": dict(p=8, R=1.0, sigma0_2=0.02, sigma_z2=0.1),
}
#: (α range, β range) of the 50 × 50 grids: they contain the heuristic point, the trained weights and the minimum.
RANGES = {
    "subspace": ((0.0, 4.0), (0.0, 0.5)),
    "sphere": ((0.0, 3.0), (0.0, 12.0)),
    "gmm": ((0.0, 2.0), (0.0, 12.0)),
}
#: Expected minima from experiments.md "Figure 6" (α, β, MSE).
EXPECTED = {"subspace": (2.27, 0.14, 0.371), "sphere": (1.40, 4.5, 0.0297), "gmm": (0.97, 5.25, 0.0251)}


def grids(case: str, size: int):
    (a0, a1), (b0, b1) = RANGES[case]
    return np.linspace(a0, a1, size), np.linspace(b0, b1, size)


def sample(case: str, num: int, seed: int, n: int, L: int):
    return sample_prompts(case, num, derive_seed(seed, "fig6", case), n=n, L=L, **CASES[case])


def per_prompt_se(batch, alpha: float, beta: float) -> float:
    """Standard error over prompts of the per-component MSE at (α, β)."""
    X, xq, xt = (
        torch.as_tensor(batch.X).double(),
        torch.as_tensor(batch.x_query).double(),
        torch.as_tensor(batch.x_target).double(),
    )
    W_KQ, W_PV = scaled_identity_weights(X.shape[-1], alpha, beta, dtype=torch.float64)
    e = ((softmax_attention(X, xq, W_KQ, W_PV) - xt) ** 2).sum(-1) / X.shape[-1]
    return float(e.std() / len(e) ** 0.5)


def minima(case: str, batch, size: int) -> dict:
    alphas, betas = grids(case, size)
    ls = alpha_beta_landscape(batch.X, batch.x_query, batch.x_target, alphas, betas)
    gm = ls.grid_min
    lo, hi = RANGES[case][1]
    opt = optimal_scaled_identity(batch.X, batch.x_query, batch.x_target, (max(lo, 1e-3), hi))
    return dict(grid=gm, valley=ls.valley_min, opt=opt, se=per_prompt_se(batch, gm["alpha"], gm["beta"]))


def fmt(m: dict) -> str:
    return f"α={m['alpha']:.3f} β={m['beta']:.3f} MSE={m['mse']:.5f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=800)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--L", type=int, default=500)
    ap.add_argument("--grid", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--dtypes", nargs="+", default=["float64", "float32"], choices=["float64", "float32"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--big", type=int, default=0, help="also evaluate one sample of this many prompts")
    ap.add_argument("--cases", nargs="+", default=list(CASES))
    args = ap.parse_args()

    print(f"n={args.n} L={args.L} prompts={args.prompts} grid={args.grid}x{args.grid} torch {torch.__version__}")
    for case in args.cases:
        alphas, betas = grids(case, args.grid)
        print(
            f"\n== {case} {CASES[case]}  α∈[{alphas[0]}, {alphas[-1]}] (step {alphas[1] - alphas[0]:.4f}), "
            f"β∈[{betas[0]}, {betas[-1]}] (step {betas[1] - betas[0]:.4f})"
        )
        t0 = time.perf_counter()
        batch = sample(case, args.prompts, args.seeds[0], args.n, args.L)
        print(f"  sampling {args.prompts} prompts: {time.perf_counter() - t0:.3f} s")
        ref = None
        for dname in args.dtypes:
            dtype = getattr(torch, dname)
            for nt in args.threads:
                torch.set_num_threads(nt)
                run = functools.partial(
                    alpha_beta_landscape, batch.X, batch.x_query, batch.x_target, alphas, betas, dtype=dtype
                )
                out = run()  # warm-up
                times = []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    run()
                    times.append(time.perf_counter() - t0)
                ref = out.mse if ref is None else ref
                err = float(np.max(np.abs(out.mse / ref - 1)))
                print(
                    f"  landscape {dname}, {nt} thread(s): median {statistics.median(times) * 1e3:.1f} ms "
                    f"(min {min(times) * 1e3:.1f}, max {max(times) * 1e3:.1f}, {args.repeats} runs; "
                    f"max rel. diff vs first {err:.1e})"
                )
        torch.set_num_threads(args.threads[0])
        ea, eb, em = EXPECTED[case]
        print(f"  expected (experiments.md):   α={ea:.3f} β={eb:.3f} MSE={em:.5f}")
        for seed in args.seeds:
            b = batch if seed == args.seeds[0] else sample(case, args.prompts, seed, args.n, args.L)
            m = minima(case, b, args.grid)
            print(
                f"  seed {seed}: grid min {fmt(m['grid'])} (±{m['se']:.5f} s.e.) | grid β, exact α* {fmt(m['valley'])}"
                f" | continuous {fmt(m['opt'])}"
            )
        if args.big:
            b = sample(case, args.big, 10_000, args.n, args.L)
            m = minima(case, b, args.grid)
            print(f"  {args.big} prompts: grid min {fmt(m['grid'])} (±{m['se']:.5f} s.e.) | continuous {fmt(m['opt'])}")


if __name__ == "__main__":
    main()
