"""Noisy context, trained part (noisy_context.trained): depth-K attention networks on noisy-context prompts.

The models are :mod:`icdenoise.denoisers.context_depth` (K − 1 softmax layers refine the noisy context tokens, the
last reads out), with the long-range skip (the readout's query is the original x̃) and without it (the query passes
through the layers). Trained by the run layer on noisy-context prompts (``settings["sigma_c2"]``: Y = X + Z in
training and test prompts) with the case's Figure 3 optimiser, n_train and epochs (or ``trained.epochs``); with
``trained.online`` true each epoch draws n_train fresh noisy prompts instead (no prompt seen twice, the same optimiser
steps), and the table gains a column ``online`` (true; absent: the fixed training set). One job
per case trains every (K, skip, seed) as ensembles, then evaluates on the same fresh noisy prompts at the trained L:
every trained model, Bayes, one step (Gaussian kernel at σ_Z²), the best scaled Gaussian kernel and the best
two-stage (h, η, K) of the training-free grid (:func:`noisy_context.point_errors`). Differences are paired on
prompts: per (K, skip, seed) row its gain over one step and over the best two stage, the skip gain (no skip −
skip, same K and seed) and the depth gain (K = 1 − this, same seed and skip), each with its paired prompt SE.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np

from .common import mean_se

log = logging.getLogger("icdenoise")

MODEL = "context_depth_softmax"
#: Reference rows of noisy_context_trained.parquet (seed −1): the training-free estimators at the trained L.
REFERENCES = ("bayes", "one_step", "scaled_gaussian", "two_stage")


def variants(config) -> list[dict]:
    """Model options of every trained variant, K outer, skip inner (K = 1 once: skip and no skip coincide there;
    it is tagged skip true)."""
    tr = config["noisy_context"]["trained"]
    out = []
    for K in tr["layers"]:
        for skip in [True] if int(K) == 1 else tr["skip"]:
            o = {"layers": int(K), "skip": bool(skip), "residual": True}
            out.append({**o, "lam_init": float(tr["lam_init"]), "lam_out_init": float(tr["lam_out_init"])})
    return out


def settings(config, case: str) -> dict:
    """A trained run's settings: the case's Figure 3 settings at ``trained.L``, noisy context σ_c² =
    sigma_c2_factor · σ_Z², ``trained.epochs`` and ``trained.n_train`` where set."""
    from ..runs import case_settings

    nc = config["noisy_context"]
    tr = nc["trained"]
    s = {**case_settings(config, case), "L": int(tr["L"]), "progress": False}
    for key in ("epochs", "n_train"):
        if tr.get(key) is not None:
            s[key] = int(tr[key])
    s["eval_every"] = s["epochs"]  # the final exact MSEs only (no curves are drawn)
    s["sigma_c2"] = float(nc["sigma_c2_factor"]) * float(s["case_params"]["sigma_z2"])
    if tr.get("online"):  # fresh noisy prompts every epoch, as many as the fixed set: the same optimiser steps
        s["online"] = {"prompts": int(s["n_train"])}
    return s


def wanted_runs(config, *, case: str) -> list:
    """One case's trained runs: every variant (:func:`variants`) and seed, variants outer; each seed its own noisy
    dataset (shared by the variants of that seed)."""
    from ..runs import RunSpec

    tr = config["noisy_context"]["trained"]
    base = settings(config, case)
    out = []
    for o in variants(config):
        s = {**base, "model_options": o}
        tags = {"L": int(base["L"]), "K": o["layers"], "skip": o["skip"]}
        for seed in tr["seeds"]:
            out.append(
                RunSpec("noisy_context", case, MODEL, int(seed), s, tags=tags, data_key=(int(base["L"]), int(seed)))
            )
    return out


def _errors(rec, b, X64, q64) -> np.ndarray:
    """Per-prompt fresh MSE ‖x̂ − x‖²/n of a trained run, in float64."""
    import torch

    from .. import models

    model = models.get(rec.run.model, rec.run.settings["model_options"])
    p = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in rec.result.params.items()}
    with torch.no_grad():
        x_hat = model.predict(X64, q64, p).numpy()
    d = x_hat - np.asarray(b.x_target, np.float64)
    return (d * d).sum(-1) / d.shape[-1]


def train_noisy_context(
    out: str,
    *,
    case: str,
    runs: list[dict],
    sigma_z2: float,
    sigma_c2: float,
    fresh_prompts: int,
    fit_prompts: int,
    hs: list[float],
    etas: list[float],
    K_max: int,
    beta_bounds: list[float],
    rng_seed: int,
    device: str = "auto",
    threads: int = 1,
    gpu_token: int = 0,
) -> None:
    """One case: train the planned runs, then evaluate them and the references on shared fresh noisy prompts."""
    import pandas as pd
    import torch

    from ..io import write_table
    from ..jobs import prepare_torch
    from ..runs import runs_from_params, train_runs
    from .noisy_context import point_errors, point_prompts

    prepare_torch(threads, gpu_token, device)
    t0, c0 = time.perf_counter(), time.process_time()
    planned = runs_from_params(runs)
    s0 = planned[0].settings
    n, L, cp = int(s0["n"]), int(s0["L"]), dict(s0["case_params"])
    records = train_runs(planned, device=device, threads=threads)
    t_train, c_train = time.perf_counter() - t0, time.process_time() - c0

    b, fit = point_prompts(case, cp, n, L, float(sigma_z2), float(sigma_c2), prompts=int(fresh_prompts),
                           fit_prompts=int(fit_prompts), seed=int(rng_seed))  # fmt: skip
    ref = point_errors(case, b, fit, float(sigma_z2), hs=hs, etas=etas, K_max=int(K_max), beta_bounds=beta_bounds)
    grid = ref["grid"]  # (nh, nη, K+1, B)
    i, j, k = np.unravel_index(int(np.argmin(grid.mean(-1))), grid.shape[:3])
    two = grid[i, j, k]
    bayes, one = ref["bayes"], ref["one_step"]
    bm = float(bayes.mean())
    X64 = torch.as_tensor(b.X, dtype=torch.float64)
    q64 = torch.as_tensor(b.x_query, dtype=torch.float64)
    errs = {(r.run.tags["K"], r.run.tags["skip"], r.run.seed): _errors(r, b, X64, q64) for r in records}
    K_top = max(K for K, _, _ in errs)

    def paired(prefix, a, c):  # a − c over the shared prompts: mean and its paired SE
        m, se = mean_se(a - c)
        return {prefix: m, f"{prefix}_se": se}

    base = dict(case=case, L=L, sigma_z2=float(sigma_z2), sigma_c2=float(sigma_c2), bayes_mse=bm)
    rows = []
    for rec in records:
        K, skip, seed = rec.run.tags["K"], rec.run.tags["skip"], rec.run.seed
        e = errs[(K, skip, seed)]
        info, res = rec.result.info, rec.result
        row = dict(base, estimator="trained", K=int(K), skip=bool(skip), seed=int(seed))
        m, se = mean_se(e)
        row.update(mse=m, mse_se=se, mse_over_bayes=m / bm, h=math.nan, eta=math.nan, steps=0)
        row.update(paired("gain", one, e), **paired("gain_two_stage", two, e))
        other = errs.get((K, not skip, seed)) if K > 1 else None
        ns, sk = (e, other) if not skip else (other, e)
        row.update(
            paired("skip_gain", ns, sk) if other is not None else {"skip_gain": math.nan, "skip_gain_se": math.nan}
        )
        row.update(paired("depth_gain", errs[(1, True, seed)], e) if K > 1 and (1, True, seed) in errs
                   else {"depth_gain": math.nan, "depth_gain_se": math.nan})  # fmt: skip
        row.update(train_mse=float(res.train_mse[-1]), test_mse=float(res.test_mse[-1]), seconds=float(res.seconds))
        row.update(alpha=float(info["alpha"]), beta=float(info["beta"]))
        for layer in range(1, K_top + 1):
            for name in ("lam", "alpha", "beta"):
                row[f"{name}_{layer}"] = float(info.get(f"{name}_{layer}", math.nan))
        rows.append(row)
    refs = {"bayes": (bayes, {}), "one_step": (one, {}),
            "scaled_gaussian": (ref["scaled_gaussian"], dict(alpha=ref["alpha"], beta=ref["beta"])),
            "two_stage": (two, dict(h=float(ref["h_values"][i]), eta=float(etas[j]), steps=int(k)))}  # fmt: skip
    for name, (e, extra) in refs.items():
        m, se = mean_se(e)
        row = dict(base, estimator=name, K=0, skip=None, seed=-1, mse=m, mse_se=se, mse_over_bayes=m / bm)
        row.update(h=math.nan, eta=math.nan, steps=0, alpha=math.nan, beta=math.nan)
        row.update(paired("gain", one, e), **paired("gain_two_stage", two, e), **extra)
        rows.append(row)
    table = pd.DataFrame(rows)
    table["skip"] = table["skip"].astype("boolean")
    online = any(r.run.online for r in records)
    if online:  # only then (the fixed-set table keeps its columns and bytes)
        table["online"] = True
    write_table(table, out)
    tr = table[table["estimator"] == "trained"].groupby(["K", "skip"])["mse_over_bayes"].mean()
    log.info(
        "noisy_context trained %s L=%d (%s): %d runs trained in %.1f s wall, %.1f CPU-s; evaluation %.1f s; MSE/Bayes: "
        "one step %.3f, best two stage %.3f (h %.3g eta %.2f K %d), %s",
        case, L, "online" if online else "fixed training set", len(records), t_train, c_train,
        time.perf_counter() - t0 - t_train, float(one.mean()) / bm,
        float(two.mean()) / bm, float(ref["h_values"][i]), float(etas[j]), int(k),
        "; ".join(f"K={K} skip={s}: {v:.3f}" for (K, s), v in tr.items()),
    )  # fmt: skip


def gather_trained(paths: list[str], out: str) -> None:
    """Rule gather_noisy_context_trained: the per-case tables -> noisy_context_trained.parquet."""
    import pandas as pd

    from ..io import read_table, write_table

    frames = [read_table(p) for p in sorted(paths)]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"case": pd.Series([], dtype="string")})
    write_table(table, out)
