"""Hopfield iterations (hopfield_iterations, beyond the paper, §4): MSE after K gradient steps of Eq. 16.

Science on top of :mod:`icdenoise.energy`; :func:`iteration_table` returns a DataFrame with explicit dtypes and
:func:`run_iteration_study` is what the rule calls. All MSEs are per component, ‖x̂ − x‖²/n, prompt means.

Heuristic (scaled-identity) weights W_PV = αI, W_KQ = βI of each case (:func:`heuristic_points`):

- subspace: the small-β expansion of softmax (Lemma E.1) turns softmax attention into linear attention, which
  fixes only the product αβ = 1/(σ0² + σZ²) (Prop. 2). The paper gives no single point; the config picks β on
  that hyperbola (``heuristics.subspace_beta``) and α = 1/(β (σ0² + σZ²)).
- sphere: α = 1, β = 1/σZ² (§3.3, the posterior-mean form of Prop. 3 read as softmax attention).
- gmm: α = 1 and β = 1/σZ² (the σ0 → 0 form, Eq. 8) and β = 1/(σ0² + σZ²) (Prop. 4 without its residual term).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np

from .common import heuristic_points, trained_softmax_weights

log = logging.getLogger("icdenoise")

#: Start ids whose weights are full trained matrices (one row set per seed); all others are scaled identities.
MATRIX_START = "trained"


#: The reference the paper's claim names: one step with γ = α (the trained attention layer itself).
ONE_STEP = dict(K=1, gamma_over_alpha=1.0)


def iteration_starts(case: str, params: dict, trained: list[dict], subspace_beta: float) -> list[dict]:
    """Starting weights of the iteration study: heuristics, mean trained |α|, |β|, and each seed's matrices."""
    starts = [dict(p, seed=-1, weights="scaled_identity") for p in heuristic_points(case, params, subspace_beta)]
    if trained:
        starts.append(
            dict(
                point="trained_mean",
                seed=-1,
                weights="scaled_identity",
                alpha=float(np.mean([abs(t["alpha"]) for t in trained])),
                beta=float(np.mean([abs(t["beta"]) for t in trained])),
                description=f"mean over {len(trained)} seeds of |alpha|, |beta|",
            )
        )
        for t in trained:
            starts.append(
                dict(
                    point=MATRIX_START,
                    seed=t["seed"],
                    weights="matrices",
                    alpha=t["alpha"],
                    beta=t["beta"],
                    W_KQ=t["W_KQ"],
                    W_PV=t["W_PV"],
                    description="trained W_KQ, W_PV of one seed",
                )
            )
    return starts


def _errors_along(traj, x_target) -> np.ndarray:
    """Per-prompt per-component squared error of every state of a trajectory, reduced in float64: (K+1, B)."""
    diff = traj.double() - x_target.double()
    return ((diff**2).sum(-1) / x_target.shape[-1]).numpy()


def iteration_errors(batch, start: dict, steps: Sequence[int], gamma_frac: float, dtype=None) -> np.ndarray:
    """Per-prompt MSE after each K in ``steps`` of Eq. 16 from s(0) = x̃: (len(steps), B).

    Scaled-identity starts iterate ``dam_iterate`` with γ = gamma_frac·α; matrix starts iterate
    ``attention_iterate`` s ← (1 − g)s + g W_PV X softmax(X W_KQ s), g = gamma_frac (its Eq.-16 extension).
    """
    import torch

    from ..energy import attention_iterate, dam_iterate

    dtype = dtype or torch.float64
    steps = [int(k) for k in steps]
    X = torch.as_tensor(batch.X).to(dtype)
    xq = torch.as_tensor(batch.x_query).to(dtype)
    xt = torch.as_tensor(batch.x_target).to(dtype)
    K_max = max(steps)
    if start["weights"] == "matrices":
        W_KQ = torch.as_tensor(start["W_KQ"]).to(dtype)
        W_PV = torch.as_tensor(start["W_PV"]).to(dtype)
        traj = attention_iterate(
            X, xq, W_KQ, W_PV, K_max, gamma_frac, return_trajectory=True, X_T=X.transpose(1, 2).contiguous()
        )
    else:
        a, b = float(start["alpha"]), float(start["beta"])
        traj = dam_iterate(xq, X, a, b, gamma_frac * a, K_max, return_trajectory=True)
    return _errors_along(traj, xt)[steps]


def iteration_table(
    case: str, batch, starts: list[dict], steps: Sequence[int], gamma_fracs: Sequence[float], dtype: str = "float64"
):
    """MSE after K steps for every start and step size, with paired differences to one step with γ = α.

    Columns: case, point, seed (−1 unless per-seed matrices), weights, alpha, beta, gamma_over_alpha, gamma, K,
    num_prompts, mse, mse_se, delta_vs_one_step (mse − mse at K = 1, γ = α, same start, same prompts),
    delta_se (paired standard error of that difference; NaN where there is no one-step reference).
    ``dtype`` ("float32" or "float64") is the precision of the iteration; errors are reduced in float64.
    """
    import pandas as pd
    import torch

    steps = sorted({int(k) for k in steps})
    fracs = [float(f) for f in gamma_fracs]
    rows = []
    for st in starts:
        errs = {f: iteration_errors(batch, st, steps, f, dtype=getattr(torch, dtype)) for f in fracs}
        ref = None
        if ONE_STEP["K"] in steps and ONE_STEP["gamma_over_alpha"] in errs:
            ref = errs[ONE_STEP["gamma_over_alpha"]][steps.index(ONE_STEP["K"])]
        for f, e in errs.items():
            B = e.shape[1]
            for i, K in enumerate(steps):
                if ref is not None:
                    diff = e[i] - ref
                    delta, delta_se = (
                        float(diff.mean()),
                        float(diff.std(ddof=1) / math.sqrt(B)) if B > 1 else float("nan"),
                    )
                else:
                    delta, delta_se = float("nan"), float("nan")
                rows.append(
                    dict(
                        case=case,
                        point=st["point"],
                        seed=int(st["seed"]),
                        weights=st["weights"],
                        alpha=float(st["alpha"]),
                        beta=float(st["beta"]),
                        gamma_over_alpha=f,
                        gamma=f * float(st["alpha"]),
                        K=K,
                        num_prompts=B,
                        mse=float(e[i].mean()),
                        mse_se=float(e[i].std(ddof=1) / math.sqrt(B)) if B > 1 else float("nan"),
                        delta_vs_one_step=delta,
                        delta_se=delta_se,
                    )
                )
    df = pd.DataFrame(rows)
    return df.astype(
        {
            "case": "string",
            "point": "string",
            "seed": "int64",
            "weights": "string",
            "alpha": "float64",
            "beta": "float64",
            "gamma_over_alpha": "float64",
            "gamma": "float64",
            "K": "int64",
            "num_prompts": "int64",
            "mse": "float64",
            "mse_se": "float64",
            "delta_vs_one_step": "float64",
            "delta_se": "float64",
        }
    )


def best_settings(table):
    """Best (K, γ/α) per case and start (per-seed matrix starts: the seed-mean MSE), with the one-step verdict.

    Columns: case, point, K, gamma_over_alpha, mse, one_step_mse, gain (one_step_mse − mse, ≥ 0),
    gain_se (paired SE, seed-mean for matrix starts), one_step_best (the best is K = 1, γ = α, or within 2 SE).
    """
    import pandas as pd

    keys = ["case", "point", "K", "gamma_over_alpha"]
    agg = (
        table.groupby(keys, sort=False)
        .agg(
            mse=("mse", "mean"),
            delta=("delta_vs_one_step", "mean"),
            delta_se=("delta_se", "mean"),  # seeds share the prompts: mean of SEs bounds the SE of the mean
        )
        .reset_index()
    )
    rows = []
    for (case, point), sub in agg.groupby(["case", "point"], sort=False):
        best = sub.loc[sub["mse"].idxmin()]
        one = sub[(sub["K"] == ONE_STEP["K"]) & (sub["gamma_over_alpha"] == ONE_STEP["gamma_over_alpha"])]
        one_mse = float(one["mse"].iloc[0]) if len(one) else float("nan")
        is_one = int(best["K"]) == ONE_STEP["K"] and float(best["gamma_over_alpha"]) == ONE_STEP["gamma_over_alpha"]
        gain = -float(best["delta"])
        gain_se = float(best["delta_se"])
        rows.append(
            dict(
                case=case,
                point=point,
                K=int(best["K"]),
                gamma_over_alpha=float(best["gamma_over_alpha"]),
                mse=float(best["mse"]),
                one_step_mse=one_mse,
                gain=gain,
                gain_se=gain_se,
                one_step_best=bool(is_one or (np.isfinite(gain_se) and gain <= 2 * gain_se)),
            )
        )
    return pd.DataFrame(rows)


def run_iteration_study(
    out: str,
    *,
    case: str,
    case_params: dict,
    run_paths: Sequence[str],
    n: int,
    L: int,
    prompts: int,
    steps: Sequence[int],
    gamma_fracs: Sequence[float],
    subspace_beta: float,
    rng_seed: int,
    dtype: str = "float64",
    threads: int = 1,
) -> None:
    """Rule hopfield_iterations: the iteration study of one case on ``prompts`` fresh prompts (``dtype`` iterates)."""
    import torch

    from ..io import write_table
    from ..tasks import sample_prompts

    torch.set_num_threads(max(1, int(threads)))
    batch = sample_prompts(case, prompts, rng_seed, n=n, L=L, **case_params)
    trained = trained_softmax_weights(run_paths, case)
    starts = iteration_starts(case, case_params, trained, subspace_beta)
    log.info(
        "case %s: %d fresh prompts (n=%d, L=%d), starts %s",
        case,
        prompts,
        n,
        L,
        [(s["point"], s["seed"], round(s["alpha"], 4), round(s["beta"], 4)) for s in starts],
    )
    df = iteration_table(case, batch, starts, steps, gamma_fracs, dtype=dtype)
    write_table(df, out)
    with_best = best_settings(df)
    log.info("best (K, gamma/alpha) per start:\n%s", with_best.to_string(index=False))
