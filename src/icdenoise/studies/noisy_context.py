"""Noisy context (noisy_context, beyond the paper): every token noisy, the 2026 follow-up's two-stage empirical Bayes.

The context holds Y_t = X_t + Z_t (σ_c² = ``sigma_c2_factor`` · σ_Z²), the query x̃ = X + Z as in the paper.
One job per case (:func:`evaluate_noisy_context`), on fresh prompts shared by every estimator (paired):

- ``bayes``: the oracle with the task known (the context does not enter it: the lower bound);
- ``one_step``: one attention step on the noisy context, Gaussian kernel at the noise bandwidth σ_Z²;
- ``clean_one_step``: the same step on the clean context (the paper's setting; what ideal particles would give);
- ``scaled_gaussian``: the best x̂ = α NW_{1/β}(x̃), fitted on ``fit_prompts`` separate prompts;
- ``two_stage``: Stage 1, K particle steps y ← y + η (NW_h(y) − y), h = h_factor · σ_Z²; Stage 2 at σ_Z².
  Every (h, η) and every K = 0..K_max in one batched trajectory (no process or loop per grid point).

Sweeps: ``sigma`` (σ_Z² = factor × the case's σ_Z², at ``L``: the whole (h, η, K) grid) and ``L`` (at the
case's σ_Z², the best (h, η) of the sigma sweep, K up to ``L_K_max``: a step costs ∝ L²). The best (h, η, K) is
chosen on the prompts it is reported on (a slightly optimistic pick; the grid is small). All MSEs are per
component, prompt means.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from ..bayes import mse_per_component, oracle_predictions
from ..io import read_table, write_table
from ..tasks import derive_seed
from .common import mean_se

log = logging.getLogger("icdenoise")

#: Columns of a case's table and of noisy_context.parquet.
COLUMNS = {
    "case": "string",
    "sweep": "string",  # "sigma" | "L"
    "sigma_z2": "float64",
    "sigma_c2": "float64",
    "L": "int64",
    "estimator": "string",  # bayes | one_step | clean_one_step | scaled_gaussian | two_stage
    "h": "float64",  # two_stage: Stage-1 bandwidth; else NaN
    "eta": "float64",
    "K": "int64",  # two_stage: particle steps; else 0
    "alpha": "float64",  # scaled_gaussian: the fitted α, β; else NaN
    "beta": "float64",
    "mse": "float64",
    "mse_se": "float64",
    "bayes_mse": "float64",
    "excess": "float64",  # mse − bayes_mse on the same prompts
    "excess_se": "float64",  # paired SE
    "gain": "float64",  # one_step − this estimator's MSE on the same prompts
    "gain_se": "float64",  # paired SE
    "num_prompts": "int64",
}

#: Columns of noisy_context_summary.parquet: per case and sweep point, each estimator's ratio to Bayes.
SUMMARY_COLUMNS = {
    "case": "string",
    "sweep": "string",
    "sigma_z2": "float64",
    "L": "int64",
    "bayes_mse": "float64",
    "one_step_ratio": "float64",
    "clean_one_step_ratio": "float64",
    "scaled_gaussian_ratio": "float64",
    "two_stage_ratio": "float64",  # best (h, η, K) at this point
    "best_h": "float64",
    "best_eta": "float64",
    "best_K": "int64",
    "best_horizon": "float64",  # K·η
    "two_stage_excess": "float64",
    "two_stage_excess_se": "float64",
    "one_step_excess": "float64",
    "one_step_excess_se": "float64",
    "gain": "float64",  # one_step − best two_stage MSE (paired)
    "gain_se": "float64",
    "num_prompts": "int64",
}


def _row(case, sweep, sz, sc, L, estimator, err, bayes, one, **extra) -> dict:
    m, se = mean_se(err)
    ex, ex_se = mean_se(err - bayes)
    gain, gain_se = mean_se(one - err)
    row = dict(case=case, sweep=sweep, sigma_z2=sz, sigma_c2=sc, L=L, estimator=estimator, h=math.nan)
    row.update(eta=math.nan, K=0, alpha=math.nan, beta=math.nan, mse=m, mse_se=se, bayes_mse=float(bayes.mean()))
    row.update(excess=ex, excess_se=ex_se, gain=gain, gain_se=gain_se, num_prompts=int(err.size))
    row.update(extra)
    return row


def point_errors(case, b, fit, sigma_z2, *, hs, etas, K_max, beta_bounds) -> dict:
    """Per-prompt MSEs of every training-free estimator on the noisy prompts ``b`` (the scaled kernel fitted on
    ``fit``): {"bayes", "one_step", "clean_one_step", "scaled_gaussian": (B,), "alpha", "beta", "h_values",
    "grid": (nh, nη, K+1, B) two-stage}."""
    import torch

    from .. import particles as pt

    n = b.x_target.shape[-1]
    bayes = mse_per_component(oracle_predictions(case, b.x_query, b.task, b.params)["bayes"], b.x_target)
    x = torch.as_tensor(b.x_target, dtype=torch.float64)

    def err(est):
        return (((est.double() - x) ** 2).sum(-1) / n).numpy()

    out = dict(bayes=bayes, one_step=err(pt.one_step(b.X, b.x_query, sigma_z2)))
    out["clean_one_step"] = err(pt.one_step(b.task["X_clean"], b.x_query, sigma_z2))
    lo, hi = (f / sigma_z2 for f in beta_bounds)
    best = pt.optimal_scaled_gaussian(fit.X, fit.x_query, fit.x_target, (lo, hi))
    out["scaled_gaussian"] = pt.scaled_gaussian_errors(b.X, b.x_query, b.x_target, best["alpha"], best["beta"])
    out.update(alpha=best["alpha"], beta=best["beta"], h_values=[f * sigma_z2 for f in hs])
    out["grid"] = pt.two_stage_grid(b.X, b.x_query, b.x_target, sigma_z2, out["h_values"], etas, K_max)
    return out


def point_prompts(case, case_params, n, L, sigma_z2, sigma_c2, *, prompts, fit_prompts, seed):
    """The fresh noisy prompts of one (σ_Z², L) point and the separate ones the scaled kernel is fitted on."""
    from ..noisy_tasks import sample_noisy_prompts

    params = dict(case_params, sigma_z2=sigma_z2)
    b = sample_noisy_prompts(case, prompts, derive_seed(seed, "fresh"), n, L, sigma_c2=sigma_c2, **params)
    fit = sample_noisy_prompts(case, fit_prompts, derive_seed(seed, "fit"), n, L, sigma_c2=sigma_c2, **params)
    return b, fit


def evaluate_point(case, case_params, n, L, sigma_z2, sigma_c2, *, prompts, fit_prompts, hs, etas, K_max, beta_bounds,
                   seed, sweep) -> list[dict]:  # fmt: skip
    """Every estimator at one (σ_Z², L) on ``prompts`` fresh noisy prompts: rows of :data:`COLUMNS`."""
    b, fit = point_prompts(case, case_params, n, L, sigma_z2, sigma_c2, prompts=prompts, fit_prompts=fit_prompts,
                           seed=seed)  # fmt: skip
    e = point_errors(case, b, fit, sigma_z2, hs=hs, etas=etas, K_max=K_max, beta_bounds=beta_bounds)
    bayes, one = e["bayes"], e["one_step"]
    at = (case, sweep, sigma_z2, sigma_c2, L)
    rows = [_row(*at, "bayes", bayes, bayes, one), _row(*at, "one_step", one, bayes, one)]
    rows.append(_row(*at, "clean_one_step", e["clean_one_step"], bayes, one))
    rows.append(_row(*at, "scaled_gaussian", e["scaled_gaussian"], bayes, one, alpha=e["alpha"], beta=e["beta"]))
    for i, h in enumerate(e["h_values"]):
        for j, eta in enumerate(etas):
            for k in range(K_max + 1):
                rows.append(_row(*at, "two_stage", e["grid"][i, j, k], bayes, one, h=h, eta=float(eta), K=k))
    return rows


def _best_two_stage(rows: list[dict]) -> dict:
    ts = [r for r in rows if r["estimator"] == "two_stage"]
    return min(ts, key=lambda r: r["mse"])


def evaluate_noisy_context(
    case, out, *, case_params, n, L, sigma_z2_factors, sigma_c2_factor, hs, etas, K_max, prompts, fit_prompts,
    L_sweep, L_prompts, L_K_max, beta_bounds, rng_seed, threads=1,
) -> None:  # fmt: skip
    """One case: the sigma sweep (whole grid at ``L``) and the L sweep (best (h, η) at the case's σ_Z²)."""
    import pandas as pd

    from ..jobs import prepare_torch

    prepare_torch(threads, 0, "cpu")
    base = float(case_params["sigma_z2"])
    rows = []
    best = None
    for f in sigma_z2_factors:
        sz = f * base
        got = evaluate_point(case, case_params, n, L, sz, sigma_c2_factor * sz, prompts=prompts,
                             fit_prompts=fit_prompts, hs=hs, etas=etas, K_max=K_max, beta_bounds=beta_bounds,
                             seed=derive_seed(rng_seed, "sigma", f), sweep="sigma")  # fmt: skip
        rows += got
        b = _best_two_stage(got)
        log.info("%s sigma_z2 %.4g: best two-stage h %.4g eta %.3g K %d", case, sz, b["h"], b["eta"], b["K"])
        if f == 1.0:
            best = b
    for L_ in L_sweep:
        rows += evaluate_point(case, case_params, n, L_, base, sigma_c2_factor * base, prompts=L_prompts,
                               fit_prompts=fit_prompts, hs=[best["h"] / base], etas=[best["eta"]], K_max=L_K_max,
                               beta_bounds=beta_bounds, seed=derive_seed(rng_seed, "L", L_), sweep="L")  # fmt: skip
        log.info("%s L %d done", case, L_)
    write_table(pd.DataFrame(rows).astype(COLUMNS), out)


def summarise(table):
    """Per (case, sweep, σ_Z², L): each estimator's MSE / Bayes, the best two-stage point and its gain over one step."""
    import pandas as pd

    out = []
    for key, g in table.groupby(["case", "sweep", "sigma_z2", "L"], sort=True):
        one = g[g["estimator"] == "one_step"].iloc[0]
        ts = g[g["estimator"] == "two_stage"]
        best = ts.loc[ts["mse"].idxmin()]
        bm = float(one["bayes_mse"])
        mse = dict(zip(g["estimator"], g["mse"], strict=False))  # two_stage: overwritten, unused
        out.append(
            dict(
                zip(["case", "sweep", "sigma_z2", "L"], key, strict=True),
                bayes_mse=bm,
                one_step_ratio=mse["one_step"] / bm,
                clean_one_step_ratio=mse["clean_one_step"] / bm,
                scaled_gaussian_ratio=mse["scaled_gaussian"] / bm,
                two_stage_ratio=float(best["mse"]) / bm,
                best_h=float(best["h"]),
                best_eta=float(best["eta"]),
                best_K=int(best["K"]),
                best_horizon=float(best["K"] * best["eta"]),
                two_stage_excess=float(best["excess"]),
                two_stage_excess_se=float(best["excess_se"]),
                one_step_excess=float(one["excess"]),
                one_step_excess_se=float(one["excess_se"]),
                gain=float(best["gain"]),
                gain_se=float(best["gain_se"]),
                num_prompts=int(one["num_prompts"]),
            )
        )
    return pd.DataFrame(out, columns=list(SUMMARY_COLUMNS)).astype(SUMMARY_COLUMNS)


#: Columns of noisy_context_illustration.parquet (the 1-D panel).
ILLUSTRATION_COLUMNS = {"kind": "string", "name": "string", "index": "int64", "value": "float64"}


def illustration(L, mode, sigma2, query, h, eta, steps, seed):
    """The follow-up's 1-D picture: L noisy tokens of the prior ½δ_{−m} + ½δ_{+m} (noise σ²), a query, the
    particles before and after ``steps`` Stage-1 steps, and the estimates: rows of :data:`ILLUSTRATION_COLUMNS`."""
    import pandas as pd
    import torch

    from .. import particles as pt

    rng = np.random.default_rng(int(seed))
    X = mode * rng.choice([-1.0, 1.0], size=L)
    Y = torch.as_tensor(X + sigma2**0.5 * rng.standard_normal(L), dtype=torch.float64).view(1, L, 1)
    q = torch.tensor([[query]], dtype=torch.float64)
    *_, P = pt.particle_trajectory(Y, h, eta, steps, torch.float64)
    rows = [dict(kind="particle", name="before", index=i, value=float(v)) for i, v in enumerate(Y.view(-1))]
    rows += [dict(kind="particle", name="after", index=i, value=float(v)) for i, v in enumerate(P.view(-1))]
    estimates = {
        "query": query,
        "one_step": float(pt.gaussian_nw(q.view(1, 1, 1), Y, sigma2).view(())),
        "two_stage": float(pt.gaussian_nw(q.view(1, 1, 1), P, sigma2).view(())),
        "bayes": float(mode * np.tanh(mode * query / sigma2)),  # posterior mean under the true two-point prior
    }
    rows += [dict(kind="estimate", name=k, index=0, value=v) for k, v in estimates.items()]
    return pd.DataFrame(rows).astype(ILLUSTRATION_COLUMNS)


def gather_noisy_context(paths, out_table, out_summary, out_illustration, *, illustration_settings, seed) -> None:
    """Per-case tables -> noisy_context.parquet, noisy_context_summary.parquet, noisy_context_illustration.parquet."""
    import pandas as pd

    table = pd.concat([read_table(p, list(COLUMNS)) for p in paths], ignore_index=True).astype(COLUMNS)
    table = table.sort_values(["case", "sweep", "sigma_z2", "L", "estimator", "h", "eta", "K"], ignore_index=True)
    summary = summarise(table)
    write_table(table, out_table)
    write_table(summary, out_summary)
    ill = illustration(**illustration_settings, seed=seed)
    write_table(ill, out_illustration)
    for r in summary.itertuples():
        log.info("%s %s sz %.3g L %d: one %.3f scaled %.3f two-stage %.3f (h %.3g eta %.2f K %d) clean %.3f", r.case,
                 r.sweep, r.sigma_z2, r.L, r.one_step_ratio, r.scaled_gaussian_ratio, r.two_stage_ratio, r.best_h,
                 r.best_eta, r.best_K, r.clean_one_step_ratio)  # fmt: skip


def wanted_runs(config, **selection) -> list:
    """The trained part's runs (``noisy_context.trained``, :func:`noisy_context_trained.wanted_runs`): the run
    layer's :func:`icdenoise.runs.plan_runs` asks the study module for them."""
    from .noisy_context_trained import wanted_runs as trained_runs

    return trained_runs(config, **selection)
