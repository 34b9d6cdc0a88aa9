"""Figure 5 data and the Hopfield iteration study (§4, Eq. 15-16; experiments.md "Beyond the paper").

Science on top of :mod:`icdenoise.energy`; every ``*_tables`` function returns pandas DataFrames with explicit
dtypes and every ``run_*`` function is what a workflow rule calls (reads its inputs, writes its outputs
atomically). All MSEs are per component, ‖x̂ − x‖²/n, prompt means.

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

log = logging.getLogger("icdenoise")

#: Start ids whose weights are full trained matrices (one row set per seed); all others are scaled identities.
MATRIX_START = "trained"
#: The reference the paper's claim names: one step with γ = α (the trained attention layer itself).
ONE_STEP = dict(K=1, gamma_over_alpha=1.0)


# --------------------------------------------------------------------------- heuristic weights


def heuristic_points(case: str, params: dict, subspace_beta: float) -> list[dict]:
    """The heuristic scaled-identity weights of a case: [{"point", "alpha", "beta", "description"}]."""
    sz = float(params["sigma_z2"])
    if case == "subspace":
        s0 = float(params["sigma0_2"])
        b = float(subspace_beta)
        if not b > 0:
            raise ValueError(f"subspace_beta must be > 0, got {subspace_beta!r}")
        return [dict(point="heuristic", alpha=1.0 / (b * (s0 + sz)), beta=b,
                     description="small beta: alpha*beta = 1/(s0^2+sZ^2)")]
    if case == "sphere":
        return [dict(point="heuristic", alpha=1.0, beta=1.0 / sz, description="alpha = 1, beta = 1/sZ^2")]
    if case == "gmm":
        s0 = float(params["sigma0_2"])
        return [
            dict(point="heuristic", alpha=1.0, beta=1.0 / sz, description="alpha = 1, beta = 1/sZ^2 (Eq. 8)"),
            dict(point="heuristic_prop4", alpha=1.0, beta=1.0 / (s0 + sz),
                 description="alpha = 1, beta = 1/(s0^2+sZ^2) (Prop. 4)"),
        ]
    raise ValueError(f"unknown case {case!r}")


def trained_softmax_weights(run_paths: Sequence[str], case: str | None = None) -> list[dict]:
    """Final softmax weights of training runs: [{"seed", "alpha", "beta", "W_KQ", "W_PV"}], sorted by seed.

    ``alpha``/``beta`` are the signed mean diagonals. Runs of another model (or case, if given) are skipped.
    """
    from .io import load_run

    out = []
    for path in run_paths:
        arrays, meta = load_run(path)
        if meta.get("model") != "softmax" or (case is not None and meta.get("case") != case):
            continue
        W_KQ = np.asarray(arrays["W_KQ"], dtype=np.float64)
        W_PV = np.asarray(arrays["W_PV"], dtype=np.float64)
        out.append(dict(seed=int(meta["seed"]), alpha=float(np.mean(np.diag(W_PV))),
                        beta=float(np.mean(np.diag(W_KQ))), W_KQ=W_KQ, W_PV=W_PV))
    return sorted(out, key=lambda r: r["seed"])


def iteration_starts(case: str, params: dict, trained: list[dict], subspace_beta: float) -> list[dict]:
    """Starting weights of the iteration study: heuristics, mean trained |α|, |β|, and each seed's matrices."""
    starts = [dict(p, seed=-1, weights="scaled_identity") for p in heuristic_points(case, params, subspace_beta)]
    if trained:
        starts.append(dict(point="trained_mean", seed=-1, weights="scaled_identity",
                           alpha=float(np.mean([abs(t["alpha"]) for t in trained])),
                           beta=float(np.mean([abs(t["beta"]) for t in trained])),
                           description=f"mean over {len(trained)} seeds of |alpha|, |beta|"))
        for t in trained:
            starts.append(dict(point=MATRIX_START, seed=t["seed"], weights="matrices", alpha=t["alpha"],
                               beta=t["beta"], W_KQ=t["W_KQ"], W_PV=t["W_PV"],
                               description="trained W_KQ, W_PV of one seed"))
    return starts


# --------------------------------------------------------------------------- Figure 5


def circle_context(L: int, R: float, seed: int) -> np.ndarray:
    """L points uniform on the radius-R circle in R² (numpy PCG64): (L, 2)."""
    rng = np.random.default_rng(int(seed))
    theta = rng.uniform(0.0, 2 * math.pi, size=L)
    return R * np.stack([np.cos(theta), np.sin(theta)], axis=1)


def circle_queries(num: int, R: float, sigma_z2: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``num`` targets on the circle, evenly spread from a random angle, and their noisy queries: (num, 2) each."""
    rng = np.random.default_rng(int(seed))
    theta = rng.uniform(0.0, 2 * math.pi) + 2 * math.pi * np.arange(num) / num
    targets = R * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    queries = targets + math.sqrt(sigma_z2) * rng.standard_normal(targets.shape)
    return targets, queries


def fig5_tables(*, R: float, L: int, sigma_z2: float, alpha: float, beta: float, gamma_frac: float,
                num_queries: int, num_steps: int, extent: float, grid: int, seed: int) -> dict:
    """Figure 5 (n = 2, d = 1): the DAM energy on a grid, the context, and Eq.-16 trajectories of noisy queries.

    Returns {"trajectories", "energy", "context"} DataFrames:
    trajectories: query_id, step, x, y, energy, target_x, target_y, dist_to_target, alpha, beta, gamma;
    energy: x, y, energy (``grid`` × ``grid`` points on [−extent, extent]²); context: token, x, y.
    """
    import pandas as pd
    import torch

    from .energy import dam_energy, dam_iterate
    from .tasks import derive_seed

    context = circle_context(L, R, derive_seed(seed, "context"))
    targets, queries = circle_queries(num_queries, R, sigma_z2, derive_seed(seed, "queries"))
    X = torch.as_tensor(context, dtype=torch.float64).unsqueeze(0)  # (1, L, 2)
    gamma = float(gamma_frac) * float(alpha)
    s0 = torch.as_tensor(queries, dtype=torch.float64).unsqueeze(0)  # (1, m, 2): all queries share the context
    traj = dam_iterate(s0, X, alpha, beta, gamma, num_steps, return_trajectory=True)[:, 0]  # (K+1, m, 2)
    E_traj = dam_energy(traj.transpose(0, 1).reshape(1, -1, 2), X, alpha, beta).reshape(num_queries, -1).T

    K1, m = traj.shape[0], traj.shape[1]
    pts = traj.numpy()
    tgt = np.broadcast_to(targets, pts.shape)
    traj_df = pd.DataFrame({
        "query_id": np.tile(np.arange(m), K1),
        "step": np.repeat(np.arange(K1), m),
        "x": pts[..., 0].ravel(),
        "y": pts[..., 1].ravel(),
        "energy": E_traj.numpy().ravel(),
        "target_x": tgt[..., 0].ravel(),
        "target_y": tgt[..., 1].ravel(),
        "dist_to_target": np.linalg.norm(pts - tgt, axis=-1).ravel(),
    })
    traj_df["alpha"], traj_df["beta"], traj_df["gamma"] = float(alpha), float(beta), gamma

    axis = np.linspace(-extent, extent, grid)
    gx, gy = np.meshgrid(axis, axis, indexing="xy")
    states = torch.as_tensor(np.stack([gx.ravel(), gy.ravel()], axis=1), dtype=torch.float64).unsqueeze(0)
    energy = dam_energy(states, X, alpha, beta)[0].numpy()
    energy_df = pd.DataFrame({"x": gx.ravel(), "y": gy.ravel(), "energy": energy})
    context_df = pd.DataFrame({"token": np.arange(L), "x": context[:, 0], "y": context[:, 1]})
    return {
        "trajectories": traj_df.astype({"query_id": "int64", "step": "int64", **{c: "float64" for c in traj_df.columns[2:]}}),
        "energy": energy_df.astype("float64"),
        "context": context_df.astype({"token": "int64", "x": "float64", "y": "float64"}),
    }


def run_fig5(out_trajectories: str, out_energy: str, out_context: str, *, settings: dict, seed: int) -> None:
    """Rule fig5_data: write the three Figure 5 tables."""
    from .io import write_table

    s = dict(settings)
    tables = fig5_tables(R=s["R"], L=s["L"], sigma_z2=s["sigma_z2"], alpha=s["alpha"], beta=s["beta"],
                         gamma_frac=s["gamma_frac"], num_queries=s["num_queries"], num_steps=max(s["panels"]),
                         extent=s["extent"], grid=s["grid"], seed=seed)
    write_table(tables["trajectories"], out_trajectories)
    write_table(tables["energy"], out_energy)
    write_table(tables["context"], out_context)
    tr = tables["trajectories"]
    for step in sorted({0, 1, max(s["panels"])}):
        d = tr[tr["step"] == step]["dist_to_target"].to_numpy()
        log.info("Figure 5: step %d, distance to target per query %s", step, np.round(d, 4).tolist())


# --------------------------------------------------------------------------- iteration study


def _errors_along(traj, x_target) -> np.ndarray:
    """Per-prompt per-component squared error of every state of a trajectory: (K+1, B)."""
    return (((traj - x_target) ** 2).sum(-1) / x_target.shape[-1]).numpy()


def iteration_errors(batch, start: dict, steps: Sequence[int], gamma_frac: float, dtype=None) -> np.ndarray:
    """Per-prompt MSE after each K in ``steps`` of Eq. 16 from s(0) = x̃: (len(steps), B).

    Scaled-identity starts iterate ``dam_iterate`` with γ = gamma_frac·α; matrix starts iterate
    ``attention_iterate`` s ← (1 − g)s + g W_PV X softmax(X W_KQ s), g = gamma_frac (its Eq.-16 extension).
    """
    import torch

    from .energy import attention_iterate, dam_iterate

    dtype = dtype or torch.float64
    steps = [int(k) for k in steps]
    X = torch.as_tensor(batch.X).to(dtype)
    xq = torch.as_tensor(batch.x_query).to(dtype)
    xt = torch.as_tensor(batch.x_target).to(dtype)
    K_max = max(steps)
    if start["weights"] == "matrices":
        W_KQ = torch.as_tensor(start["W_KQ"]).to(dtype)
        W_PV = torch.as_tensor(start["W_PV"]).to(dtype)
        traj = attention_iterate(X, xq, W_KQ, W_PV, K_max, gamma_frac, return_trajectory=True,
                                 X_T=X.transpose(1, 2).contiguous())
    else:
        a, b = float(start["alpha"]), float(start["beta"])
        traj = dam_iterate(xq, X, a, b, gamma_frac * a, K_max, return_trajectory=True)
    return _errors_along(traj, xt)[steps]


def iteration_table(case: str, batch, starts: list[dict], steps: Sequence[int], gamma_fracs: Sequence[float]):
    """MSE after K steps for every start and step size, with paired differences to one step with γ = α.

    Columns: case, point, seed (−1 unless per-seed matrices), weights, alpha, beta, gamma_over_alpha, gamma, K,
    num_prompts, mse, mse_se, delta_vs_one_step (mse − mse at K = 1, γ = α, same start, same prompts),
    delta_se (paired standard error of that difference; NaN where there is no one-step reference).
    """
    import pandas as pd

    steps = sorted({int(k) for k in steps})
    fracs = [float(f) for f in gamma_fracs]
    rows = []
    for st in starts:
        errs = {f: iteration_errors(batch, st, steps, f) for f in fracs}
        ref = None
        if ONE_STEP["K"] in steps and ONE_STEP["gamma_over_alpha"] in errs:
            ref = errs[ONE_STEP["gamma_over_alpha"]][steps.index(ONE_STEP["K"])]
        for f, e in errs.items():
            B = e.shape[1]
            for i, K in enumerate(steps):
                if ref is not None:
                    diff = e[i] - ref
                    delta, delta_se = float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(B)) if B > 1 else float("nan")
                else:
                    delta, delta_se = float("nan"), float("nan")
                rows.append(dict(
                    case=case, point=st["point"], seed=int(st["seed"]), weights=st["weights"],
                    alpha=float(st["alpha"]), beta=float(st["beta"]), gamma_over_alpha=f, gamma=f * float(st["alpha"]),
                    K=K, num_prompts=B, mse=float(e[i].mean()),
                    mse_se=float(e[i].std(ddof=1) / math.sqrt(B)) if B > 1 else float("nan"),
                    delta_vs_one_step=delta, delta_se=delta_se,
                ))
    df = pd.DataFrame(rows)
    return df.astype({"case": "string", "point": "string", "seed": "int64", "weights": "string", "alpha": "float64",
                      "beta": "float64", "gamma_over_alpha": "float64", "gamma": "float64", "K": "int64",
                      "num_prompts": "int64", "mse": "float64", "mse_se": "float64",
                      "delta_vs_one_step": "float64", "delta_se": "float64"})


def best_settings(table):
    """Best (K, γ/α) per case and start (per-seed matrix starts: the seed-mean MSE), with the one-step verdict.

    Columns: case, point, K, gamma_over_alpha, mse, one_step_mse, gain (one_step_mse − mse, ≥ 0),
    gain_se (paired SE, seed-mean for matrix starts), one_step_best (the best is K = 1, γ = α, or within 2 SE).
    """
    import pandas as pd

    keys = ["case", "point", "K", "gamma_over_alpha"]
    agg = table.groupby(keys, sort=False).agg(
        mse=("mse", "mean"), delta=("delta_vs_one_step", "mean"),
        delta_se=("delta_se", "mean"),  # seeds share the prompts: mean of SEs bounds the SE of the mean
    ).reset_index()
    rows = []
    for (case, point), sub in agg.groupby(["case", "point"], sort=False):
        best = sub.loc[sub["mse"].idxmin()]
        one = sub[(sub["K"] == ONE_STEP["K"]) & (sub["gamma_over_alpha"] == ONE_STEP["gamma_over_alpha"])]
        one_mse = float(one["mse"].iloc[0]) if len(one) else float("nan")
        is_one = int(best["K"]) == ONE_STEP["K"] and float(best["gamma_over_alpha"]) == ONE_STEP["gamma_over_alpha"]
        gain = -float(best["delta"])
        gain_se = float(best["delta_se"])
        rows.append(dict(case=case, point=point, K=int(best["K"]), gamma_over_alpha=float(best["gamma_over_alpha"]),
                         mse=float(best["mse"]), one_step_mse=one_mse, gain=gain, gain_se=gain_se,
                         one_step_best=bool(is_one or (np.isfinite(gain_se) and gain <= 2 * gain_se))))
    return pd.DataFrame(rows)


def run_iteration_study(out: str, *, case: str, case_params: dict, run_paths: Sequence[str], n: int, L: int,
                        prompts: int, steps: Sequence[int], gamma_fracs: Sequence[float], subspace_beta: float,
                        rng_seed: int, threads: int = 1) -> None:
    """Rule hopfield_iterations: the iteration study of one case on ``prompts`` fresh prompts."""
    import torch

    from .io import write_table
    from .tasks import sample_prompts

    torch.set_num_threads(max(1, int(threads)))
    batch = sample_prompts(case, prompts, rng_seed, n=n, L=L, **case_params)
    trained = trained_softmax_weights(run_paths, case)
    starts = iteration_starts(case, case_params, trained, subspace_beta)
    log.info("case %s: %d fresh prompts (n=%d, L=%d), starts %s", case, prompts, n, L,
             [(s["point"], s["seed"], round(s["alpha"], 4), round(s["beta"], 4)) for s in starts])
    df = iteration_table(case, batch, starts, steps, gamma_fracs)
    write_table(df, out)
    with_best = best_settings(df)
    log.info("best (K, gamma/alpha) per start:\n%s", with_best.to_string(index=False))
