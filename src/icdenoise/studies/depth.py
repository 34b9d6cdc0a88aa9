"""Trained depth (depth, beyond the paper, §1, §4, App. G.2): does a K-layer attention network beat one step?

The models are :mod:`icdenoise.denoisers.depth` (s₀ = x̃, s_{k+1} = λ_k s_k + Attn_k(X, s_k), x̂ = s_K), trained by
the run layer with the Figure 3 optimiser and epochs. One job per (case, family, L) trains every (K, tied, seed) of
that triple, then evaluates on the same fresh prompts: every trained model, the one-layer model (K = 1, λ = 0: the
paper's, trained with Figure 3's seeds on Figure 3's data at the config's L), the Hopfield study's K-step iteration
of Eq. 16 from those one-layer weights (best γ/α per K), Bayes, and for the linear family the best degree-K
polynomial of S = XᵀX/L applied to x̃ (least squares, and the product form Π_k (λ_k + c_k S) a K-layer linear model
with scaled-identity weights applies), both fitted on prompts of their own. Differences are paired on prompts.

Gains are one-layer MSE − K-layer MSE (positive: depth helps), seed means with
SE = √(SE_seeds² + SE_prompts²): the seeds' spread (training) and the prompts' (all seeds share the prompts).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import replace

import numpy as np

from .common import mean_se

log = logging.getLogger("icdenoise")

FAMILY_MODEL = {"linear": "depth_linear", "softmax": "depth_softmax"}
#: the one-layer reference of every job: K = 1 with λ held at 0 (the paper's model)
ONE_LAYER = {"layers": 1, "tied": True, "residual": False, "lam_init": 0.0}


# ----------------------------------------------------------------------------- planning


def jobs(config) -> list[tuple[str, str, int]]:
    """(case, family, L) of every training job: each case and family at the config's L; subspace linear also at
    every ``depth.L_sweep``."""
    dp = config["depth"]
    out = [(c, f, int(config["L"])) for c in dp["cases"] if c in config["cases"] for f in dp["families"]]
    if "subspace" in dp["cases"] and "linear" in dp["families"] and "subspace" in config["cases"]:
        out += [("subspace", "linear", int(L)) for L in dp["L_sweep"] if int(L) != int(config["L"])]
    return out


def variants(config) -> list[dict]:
    """Model options of every trained variant: the one-layer reference, then K outer, tied/untied inner (K = 1
    once: tied and untied are one model there, with a learned λ)."""
    dp = config["depth"]
    out = [dict(ONE_LAYER)]
    for K in dp["layers"]:
        for tied in [True] if int(K) == 1 else dp["tied"]:
            out.append({"layers": int(K), "tied": bool(tied), "residual": True, "lam_init": float(dp["lam_init"])})
    return out


def _tags(o: dict, L: int) -> dict:
    return {"L": int(L), "K": o["layers"], "tied": o["tied"], "residual": o["residual"]}


def wanted_runs(config, *, case: str, family: str, L: int) -> list:
    """One (case, family, L) job's depth runs: every variant (:func:`variants`) and seed, variants outer; at the
    config's L each seed on its Figure 3 dataset (:func:`plan` gives them its data seed), elsewhere on its own."""
    from ..runs import RunSpec, case_settings
    from .training_dynamics import data_index

    dp = config["depth"]
    L = int(L)
    out = []
    for o in variants(config):
        settings = {**case_settings(config, case), "L": L, "model_options": o, "progress": False}
        settings["eval_every"] = settings["epochs"]  # the final exact MSEs only (no curves are drawn)
        for s in dp["seeds"]:
            i = data_index(config, s) if L == int(config["L"]) else int(s)
            out.append(
                RunSpec(
                    "depth",
                    case,
                    FAMILY_MODEL[family],
                    int(s),
                    settings,
                    tags=_tags(o, L),
                    data_index=i,
                    data_key=(L, i),
                )
            )
    return out


def plan(config, *, case: str, family: str, L: int) -> list:
    """The planned runs of one job (:func:`icdenoise.runs.plan_runs`). At the config's L every depth run takes its
    Figure 3 run's data seed, the one-layer reference (K = 1, λ = 0) also its train seed, and the Figure 3 runs of
    ``family`` themselves come last (study training_dynamics, the paper's model on its fused kernel): the reference
    must reproduce them."""
    from ..runs import plan_runs

    runs = plan_runs(config, "depth", case=case, family=family, L=L)
    if int(L) != int(config["L"]):
        return runs
    fig3 = plan_runs(config, "training_dynamics", case=case, models=[family], seeds=config["depth"]["seeds"])
    by_seed = {r.seed: r for r in fig3}
    out = []
    for r in runs:
        f = by_seed[r.seed]
        seeds = {**r.seeds, "data": f.seeds["data"]}
        if not r.tags["residual"] and r.tags["K"] == 1:
            seeds["train"] = f.seeds["train"]
        out.append(replace(r, seeds=seeds))
    return out + [
        replace(f, settings={**f.settings, "eval_every": f.settings["epochs"], "progress": False}) for f in fig3
    ]


# ----------------------------------------------------------------------------- theory: polynomials of S


def power_features(S: np.ndarray, x_query: np.ndarray, K: int) -> np.ndarray:
    """(B, K+1, n): S^j x̃ for j = 0..K, S = XᵀX/L (B, n, n) per prompt."""
    F = [x_query]
    for _ in range(K):
        F.append(np.einsum("bij,bj->bi", S, F[-1]))
    return np.stack(F, 1)


def fit_polynomial(F: np.ndarray, x_target: np.ndarray) -> np.ndarray:
    """(K+1,) coefficients c of the least-squares x̂ = Σ_j c_j S^j x̃ (features F (B, K+1, n))."""
    G = np.einsum("bjn,bkn->jk", F, F)
    h = np.einsum("bjn,bn->j", F, x_target)
    return np.linalg.lstsq(G, h, rcond=None)[0]


def product_apply(S, x_query, lam, c):
    """Π_k (λ_k + c_k S) x̃: a K-layer linear model with W_PV⁽ᵏ⁾ W_KQ⁽ᵏ⁾ ∝ I (torch, batched)."""
    s = x_query
    for lk, ck in zip(lam, c, strict=True):
        s = lk * s + ck * (S @ s.unsqueeze(-1)).squeeze(-1)
    return s


def fit_product(S: np.ndarray, x_query: np.ndarray, x_target: np.ndarray, K: int, start=None, iters: int = 200):
    """(λ (K,), c (K,)) minimising the mean ‖Π_k (λ_k + c_k S) x̃ − x‖² (L-BFGS in float64, from ``start``, e.g. the
    K−1 solution with a factor (1, 0) appended, so the fit never gets worse with K)."""
    import torch

    S_t, q, t = (torch.as_tensor(a, dtype=torch.float64) for a in (S, x_query, x_target))
    lam0, c0 = start if start is not None else (np.ones(K), np.zeros(K))
    best = None
    for jitter in (0.0, 0.05, -0.05):  # a few starts: the product form is not convex
        lam = torch.tensor(np.asarray(lam0, float) + jitter, requires_grad=True)
        c = torch.tensor(np.asarray(c0, float), requires_grad=True)
        opt = torch.optim.LBFGS([lam, c], max_iter=iters, line_search_fn="strong_wolfe")

        def closure(opt=opt, lam=lam, c=c):
            opt.zero_grad()
            loss = (product_apply(S_t, q, lam, c) - t).square().sum(-1).mean()
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            loss = float((product_apply(S_t, q, lam, c) - t).square().sum(-1).mean())
        if np.isfinite(loss) and (best is None or loss < best[0]):
            best = (loss, lam.detach().numpy().copy(), c.detach().numpy().copy())
    return best[1], best[2]


# ----------------------------------------------------------------------------- evaluation


def _per_prompt(x_hat, x_target) -> np.ndarray:
    d = np.asarray(x_hat, np.float64) - np.asarray(x_target, np.float64)
    return (d * d).sum(-1) / d.shape[-1]


def linear_iterate(S, x_query, W_KQ, W_PV, K: int, g: float) -> list:
    """Eq. 16 with linear attention: s ← (1 − g) s + g W_PV S W_KQ s, K steps from x̃; the states s_1..s_K."""
    s, out = x_query, []
    for _ in range(K):
        s = (1 - g) * s + g * np.einsum("ij,bj->bi", W_PV, np.einsum("bij,bj->bi", S, s @ W_KQ.T))
        out.append(s)
    return out


def hopfield_errors(family: str, batch, S, W_KQ, W_PV, K_max: int, gamma_fracs) -> dict:
    """{(K, γ/α): per-prompt MSE} of K = 1..K_max steps of Eq. 16 from the trained one-layer weights."""
    from .hopfield_iterations import iteration_errors

    out = {}
    for g in gamma_fracs:
        if family == "softmax":
            start = {"weights": "matrices", "W_KQ": W_KQ, "W_PV": W_PV}
            errs = iteration_errors(batch, start, list(range(1, K_max + 1)), float(g))
            for K in range(1, K_max + 1):
                out[(K, float(g))] = errs[K - 1]
        else:
            for K, s in enumerate(linear_iterate(S, batch.x_query, W_KQ, W_PV, K_max, float(g)), start=1):
                out[(K, float(g))] = _per_prompt(s, batch.x_target)
    return out


def _model_errors(rec, batch, X64) -> np.ndarray:
    """Per-prompt fresh MSE of a trained depth run, in float64."""
    import torch

    from .. import models

    model = models.get(rec.run.model, rec.run.settings["model_options"])
    p = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in rec.result.params.items()}
    with torch.no_grad():
        x_hat = model.predict(X64, torch.as_tensor(batch.x_query, dtype=torch.float64), p)
    return _per_prompt(x_hat.numpy(), batch.x_target)


def _paper_errors(rec, batch, X64) -> np.ndarray:
    """Per-prompt fresh MSE of a trained paper model (Eq. 11 / Eq. 12), in float64."""
    import torch

    from .. import models

    p = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in rec.result.params.items()}
    with torch.no_grad():
        x_hat = models.get(rec.run.model).predict(X64, torch.as_tensor(batch.x_query, dtype=torch.float64), p)
    return _per_prompt(x_hat.numpy(), batch.x_target)


def _gain_stats(base: np.ndarray, other: np.ndarray) -> dict:
    """Gain = base − other per (seed, prompt) arrays (S, P): seed mean, SE_seeds, SE_prompts and their sum in
    quadrature (all seeds share the prompts)."""
    d = base - other  # (S, P)
    per_seed = d.mean(1)
    S = per_seed.size
    se_seeds = float(per_seed.std(ddof=1) / math.sqrt(S)) if S > 1 else math.nan
    avg = d.mean(0)
    se_prompts = float(avg.std(ddof=1) / math.sqrt(avg.size))
    se = math.hypot(se_seeds, se_prompts) if S > 1 else se_prompts
    return dict(gain=float(per_seed.mean()), gain_se=se, gain_se_seeds=se_seeds, gain_se_prompts=se_prompts)


def _summary_row(case, L, family, kind, K, tied, errs: np.ndarray, base: np.ndarray, bayes: np.ndarray, **extra):
    """One row of depth.parquet: an estimator's per-(seed, prompt) errors (S, P) against the one-layer model's."""
    per_seed = errs.mean(1)
    S = per_seed.size
    m, se_p = mean_se(errs.mean(0))
    se_s = float(per_seed.std(ddof=1) / math.sqrt(S)) if S > 1 else math.nan
    ratio = errs.mean(0) / bayes.mean()
    return dict(
        case=case,
        L=int(L),
        family=family,
        estimator=kind,
        K=int(K),
        tied=tied,
        seeds=int(S),
        mse=m,
        mse_se=math.hypot(se_s, se_p) if S > 1 else se_p,
        bayes_mse=float(bayes.mean()),
        mse_over_bayes=float(ratio.mean()),
        excess_over_bayes=float((errs - bayes).mean()),
        excess_se=mean_se((errs - bayes).mean(0))[1],
        **_gain_stats(base, errs),
        **{"gamma_over_alpha": math.nan, "lam_mean": math.nan, **extra},
    )


def train_depth(
    out_summary: str,
    out_runs: str,
    out_layers: str,
    *,
    case: str,
    family: str,
    L: int,
    runs: list[dict],
    fresh_prompts: int,
    fit_prompts: int,
    fresh_seed: int,
    fit_seed: int,
    gamma_fracs: list[float],
    device: str = "auto",
    threads: int = 1,
    gpu_token: int = 0,
) -> None:
    """One job: train the planned runs of (case, family, L), then evaluate every estimator on the same fresh prompts.

    At the config's L the planned runs end with the Figure 3 runs of ``family`` (the paper's model, retrained here
    with Figure 3's seeds), which the one-layer reference reproduces. Writes depth.parquet's rows (``out_summary``:
    per estimator, seed means), per-run rows (``out_runs``) and per-layer weights (``out_layers``)."""
    import pandas as pd
    import torch

    from ..bayes import oracle_predictions
    from ..io import write_table
    from ..jobs import prepare_torch
    from ..models import context_moment
    from ..runs import runs_from_params, train_runs
    from ..tasks import sample_prompts

    prepare_torch(threads, gpu_token, device)
    t0, c0 = time.perf_counter(), time.process_time()
    planned = runs_from_params(runs)
    s0 = planned[0].settings
    n, cp = int(s0["n"]), dict(s0["case_params"])
    records = train_runs(planned, device=device, threads=threads)
    t_train, c_train = time.perf_counter() - t0, time.process_time() - c0

    fresh = sample_prompts(case, int(fresh_prompts), int(fresh_seed), n=n, L=int(L), **cp)
    X64 = torch.as_tensor(fresh.X, dtype=torch.float64)
    S = context_moment(X64).numpy()
    bayes = _per_prompt(oracle_predictions(case, fresh.x_query, fresh.task, fresh.params)["bayes"], fresh.x_target)
    fig3 = {r.run.seed: r for r in records if r.run.study == "training_dynamics"}
    records = [r for r in records if r.run.study == "depth"]
    seeds = sorted({r.run.seed for r in records})
    by = {}  # (K, tied, residual) -> {seed: record}
    for rec in records:
        t = rec.run.tags
        by.setdefault((t["K"], t["tied"], t["residual"]), {})[rec.run.seed] = rec
    errs = {key: np.stack([_model_errors(recs[s], fresh, X64) for s in seeds]) for key, recs in by.items()}
    one_key = (1, True, False)
    base = errs[one_key]  # (S, P): the one-layer (paper) model

    run_rows, layer_rows, rows = [], [], []
    for (K, tied, residual), recs in by.items():
        kind = "one_layer" if not residual else "trained"
        for i, s in enumerate(seeds):
            rec = recs[s]
            res = rec.result
            e = errs[(K, tied, residual)][i]
            g = base[i] - e
            row = dict(
                case=case, L=int(L), family=family, K=int(K), tied=bool(tied), residual=bool(residual), seed=int(s),
                train_mse=float(res.train_mse[-1]), test_mse=float(res.test_mse[-1]),
                fresh_mse=float(e.mean()), fresh_mse_se=mean_se(e)[1], bayes_mse=float(bayes.mean()),
                gain=float(g.mean()), gain_se=mean_se(g)[1], kernel=res.kernel, seconds=float(res.seconds),
                fig3_test_mse=math.nan, fig3_fresh_mse=math.nan, fig3_fresh_diff=math.nan,
                fig3_fresh_diff_se=math.nan, fig3_weight_diff=math.nan,
            )  # fmt: skip
            if kind == "one_layer" and s in fig3:  # the Figure 3 run of this seed, retrained by its own kernel
                f = fig3[s].result
                e3 = _paper_errors(fig3[s], fresh, X64)
                row.update(
                    fig3_test_mse=float(f.test_mse[-1]),
                    fig3_fresh_mse=float(e3.mean()),
                    fig3_fresh_diff=float((e - e3).mean()),
                    fig3_fresh_diff_se=mean_se(e - e3)[1],
                    fig3_weight_diff=float(max(np.abs(res.params[k][0] - f.params[k]).max() for k in ("W_KQ", "W_PV"))),
                )
            run_rows.append(row)
            model_T = 1 if tied else int(K)
            for layer in range(model_T):
                info = res.info
                layer_rows.append(
                    dict(
                        case=case, L=int(L), family=family, K=int(K), tied=bool(tied), residual=bool(residual),
                        seed=int(s), layer=layer, lam=info[f"lam_{layer}"], alpha=info[f"alpha_{layer}"],
                        beta=info[f"beta_{layer}"], dist_KQ=info[f"dist_KQ_{layer}"], dist_PV=info[f"dist_PV_{layer}"],
                        gamma_over_alpha=1.0 - info[f"lam_{layer}"],
                    )
                )  # fmt: skip
        lam = np.mean([recs[s].result.info["lam"] for s in seeds])
        rows.append(_summary_row(case, L, family, kind, K, tied, errs[(K, tied, residual)], base, bayes,
                                 gamma_over_alpha=1.0 - lam, lam_mean=lam))  # fmt: skip

    # the Hopfield study's K steps of Eq. 16 from each seed's one-layer weights, best γ/α per K (on these prompts)
    K_max = max(k for k, _, _ in by)
    one = by[one_key]
    hop = [
        hopfield_errors(
            family, fresh, S, one[s].result.params["W_KQ"][0], one[s].result.params["W_PV"][0], K_max, gamma_fracs
        )
        for s in seeds
    ]
    for K in range(1, K_max + 1):
        cand = {g: np.stack([h[(K, float(g))] for h in hop]) for g in gamma_fracs}
        g_best = min(cand, key=lambda g: cand[g].mean())
        rows.append(_summary_row(case, L, family, "hopfield", K, None, cand[g_best], base, bayes,
                                 gamma_over_alpha=float(g_best), lam_mean=1.0 - float(g_best)))  # fmt: skip
    rows.append(_summary_row(case, L, family, "bayes", 0, None, bayes[None], base, bayes))
    if family == "linear":  # the theory of a K-layer linear model with scaled-identity weights
        fit = sample_prompts(case, int(fit_prompts), int(fit_seed), n=n, L=int(L), **cp)
        S_fit = context_moment(torch.as_tensor(fit.X, dtype=torch.float64)).numpy()
        F_fit, F = power_features(S_fit, fit.x_query, K_max), power_features(S, fresh.x_query, K_max)
        start = None
        for K in range(1, K_max + 1):
            c = fit_polynomial(F_fit[:, : K + 1], fit.x_target)
            e = _per_prompt(np.einsum("j,bjn->bn", c, F[:, : K + 1]), fresh.x_target)
            rows.append(_summary_row(case, L, family, "polynomial", K, None, e[None], base, bayes))
            lam, cc = fit_product(S_fit, fit.x_query, fit.x_target, K, start)
            start = (np.append(lam, 1.0), np.append(cc, 0.0))
            x_hat = product_apply(torch.as_tensor(S), torch.as_tensor(fresh.x_query, dtype=torch.float64), lam, cc)
            e = _per_prompt(x_hat.numpy(), fresh.x_target)
            rows.append(_summary_row(case, L, family, "product", K, None, e[None], base, bayes,
                                     lam_mean=float(np.mean(lam))))  # fmt: skip
    for r in rows:
        r["tied"] = pd.NA if r["tied"] is None else bool(r["tied"])
    summary = pd.DataFrame(rows).astype({"tied": "boolean"})
    write_table(summary, out_summary)
    write_table(pd.DataFrame(run_rows), out_runs)
    write_table(pd.DataFrame(layer_rows), out_layers)
    log.info(
        "depth %s/%s L=%d: %d runs trained in %.1f s wall, %.1f CPU-s; evaluation %.1f s; "
        "gains (one layer − K layers): %s",
        case, family, int(L), len(records), t_train, c_train, time.perf_counter() - t0 - t_train,
        "; ".join(f"{r['estimator']} K={r['K']} tied={r['tied']}: {r['gain']:.5f} ± {r['gain_se']:.5f}" for r in rows),
    )  # fmt: skip


def gather_depth(summaries: list[str], runs: list[str], layers: list[str], out_summary, out_runs, out_layers) -> None:
    """Rule gather_depth: the per-job tables -> depth.parquet, depth_runs.parquet, depth_layers.parquet."""
    from ..io import concat_tables

    for paths, out in ((summaries, out_summary), (runs, out_runs), (layers, out_layers)):
        concat_tables(list(paths), out)
