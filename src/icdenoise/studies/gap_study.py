"""Gap study (gap_study, beyond the paper): the gap to Bayes in three parts, estimation, optimisation, approximation.

The trained one-layer models sit above the Bayes MSE at paper scale. Three things make that gap, each measured
on the same fresh prompts against the same Monte Carlo Bayes (paired):

* **estimation** = fresh MSE at N training prompts − online floor: N = 800 prompts for 2n² = 512 parameters;
* **optimisation** = online floor − best scaled identity (W_KQ = βI, W_PV = αI fitted on other prompts): what the
  paper's training recipe leaves on the table even with unlimited data;
* **approximation** = best scaled identity − Bayes: one attention layer seeing L context tokens against an oracle
  that knows the task, so it holds the finite-L cost as well as the architecture's.

Each job trains the paper's model of a case (``model`` on ``case``) at context length L, as a batched ensemble:

* with N training prompts for every N in ``N`` and every seed, keeping the paper's number of optimiser steps
  (``steps`` = paper epochs x ceil(n_train / batch): the epochs are ``round(steps / ceil(N / batch))``, so only
  the data size changes). The datasets of a seed are nested: its N prompts are the first N of one pool, and its
  n_test held-out prompts are the pool's last ones; all N of a seed also share the initial weights and batch
  generator seed (a paired design: the N-curve of a seed moves only through the data);
* **online**: fresh prompts every epoch (``online_prompts`` per epoch, cut into batches like a finite set, the same
  steps), drawn in-process by :func:`icdenoise.tasks.sample_prompts_torch` (the same law as the numpy sampler,
  tested). No prompt is seen twice, so its expected MSE is the architecture's floor at this L when trained this way.

Every final model is evaluated on ``fresh_prompts`` fresh prompts from the reference numpy sampler (the same
prompts for every model of the case and L: paired), together with the Bayes oracle on the same prompts, so each
run's excess over Bayes has a paired standard error. References at the same L: the Bayes MSE, the best
scaled-identity weights (W_KQ = βI, W_PV = αI; fitted on ``landscape_prompts`` other prompts, evaluated on the
fresh ones: the α–β landscape minimum of Fig. 6) and, for linear attention, the finite-L theory γ*(L).

All MSEs are per component, ‖x̂ − x‖²/n, prompt means with their standard errors.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

import numpy as np

from ..bayes import (
    bayes_mse_subspace,
    linear_attention_finite_L_mse,
    linear_attention_gamma_star,
    mse_per_component,
    oracle_predictions,
)
from ..io import read_table, write_table
from ..jobs import prepare_torch
from ..tasks import derive_seed, sample_prompts
from ..verdict import seed_mean
from .common import mean_se, model_mse

log = logging.getLogger("icdenoise")

#: Training prompts of one fresh-evaluation chunk (bounded memory at large L).
FRESH_CHUNK = 1000

#: gap_study.parquet: one row per trained run.
GAP_COLUMNS = {
    "case": "string",
    "model": "string",
    "training": "string",  # "finite" (N prompts, many epochs) or "online" (fresh prompts every epoch)
    "N": "int64",  # distinct training prompts: finite N; online: every prompt seen (steps x batch, all distinct)
    "L": "int64",
    "seed": "int64",
    "epochs": "int64",
    "steps": "int64",  # optimiser steps (schedule_for: the paper's, to the nearest epoch boundary)
    "milestone_steps": "string",  # the steps after which the lr decays, "800/900" (schedule_for)
    "train_mse": "float64",  # final epoch, exact mean over the training prompts (online: the last epoch's)
    "test_mse": "float64",  # final epoch, n_test held-out prompts of the seed
    "fresh_mse": "float64",  # fresh prompts: the expected MSE
    "fresh_mse_se": "float64",
    "bayes_mse": "float64",  # the Bayes oracle on the same fresh prompts
    "excess_mse": "float64",  # fresh_mse - bayes_mse, paired on the prompts
    "excess_se": "float64",
    "vs_scaled_identity": "float64",  # fresh_mse - best scaled identity's MSE, paired on the same fresh prompts
    "vs_scaled_identity_se": "float64",
    "alpha": "float64",
    "beta": "float64",
    "dist_KQ": "float64",
    "dist_PV": "float64",
}

#: gap_study_references.parquet: the levels each (case, model, L) is compared with.
REFERENCE_COLUMNS = {
    "case": "string",
    "model": "string",
    "L": "int64",
    "reference": "string",  # "bayes", "bayes_theory", "scaled_identity_opt", "finite_L_theory"
    "alpha": "float64",
    "beta": "float64",
    "num_prompts": "int64",  # prompts the mse is a mean over (0: closed form)
    "mse": "float64",
    "mse_se": "float64",
    "excess_mse": "float64",  # mse - Bayes (paired on the fresh prompts where both are measured)
    "excess_se": "float64",
}

#: Bootstrap resamples of the seeds (the parts' SEs) and their generator's seed.
BOOTSTRAP, BOOTSTRAP_SEED = 4000, 0

#: gap_study_summary.parquet: one row per (case, model) at the study's L. Every part is a seed mean of per-seed
#: paired differences on the fresh prompts; its SE adds in quadrature a bootstrap over the seeds (resampled jointly
#: for the finite and online runs of one seed) and the prompts' paired SE (seeds share the prompts: the mean SE).
SUMMARY_COLUMNS = {
    "case": "string",
    "model": "string",
    "L": "int64",
    "N_ref": "int64",  # the paper's training-set size, where the gap is split
    "seeds": "int64",
    "bayes_mse": "float64",  # the Monte Carlo Bayes on the fresh prompts: the one reference of every part
    "bayes_se": "float64",
    "bayes_theory_mse": "float64",  # the closed form where there is one (subspace), shown only; NaN otherwise
    "floor_mse": "float64",  # online runs: seed mean of the fresh MSE
    "floor_se": "float64",
    "fresh_mse": "float64",  # N = N_ref: seed mean of the fresh MSE
    "fresh_se": "float64",
    "total_gap": "float64",  # fresh(N_ref) - Bayes
    "total_gap_se": "float64",
    "est_gap": "float64",  # estimation: fresh(N_ref) - online floor
    "est_gap_se": "float64",
    "optim_gap": "float64",  # optimisation: online floor - best scaled identity
    "optim_gap_se": "float64",
    "approx_gap": "float64",  # approximation: best scaled identity - Bayes (holds the finite-L cost too)
    "approx_gap_se": "float64",
    "est_share": "float64",  # each part / total_gap (the three add up to 1)
    "optim_share": "float64",
    "approx_share": "float64",
    "scaled_identity_mse": "float64",  # best scaled identity (landscape minimum) on the fresh prompts
    "scaled_identity_se": "float64",
    "scaled_identity_alpha": "float64",
    "scaled_identity_beta": "float64",
    "finite_L_theory_mse": "float64",  # linear attention: the gamma*(L) closed form; NaN for softmax
    "slope": "float64",  # s of the joint fit excess(N) = floor + c N^s (the online floor as N -> infinity)
    "slope_se": "float64",
    "slope_points": "int64",  # N values in the fit (every N, plus the online floor)
}


def steps_per_epoch(N: int, batch_size: int) -> int:
    """Optimiser steps of one epoch over N prompts (the last batch possibly smaller)."""
    return math.ceil(int(N) / int(batch_size))


def nearest_epoch(step: float, per_epoch: int) -> int:
    """The epoch boundary nearest ``step`` (ties up, not banker's rounding): floor(step / per_epoch + 1/2)."""
    return int(math.floor(float(step) / int(per_epoch) + 0.5))


def epochs_for(N: int, batch_size: int, steps: int) -> int:
    """Epochs of a run on N prompts that take the paper's ``steps`` optimiser steps, to the nearest whole epoch.

    The rule where steps / ceil(N / batch) is not an integer: the epoch boundary nearest the paper's last step,
    ties up (N = 6400, batch 80, 1000 steps: 12.5 -> 13 epochs = 1040 steps); at least one epoch."""
    return max(1, nearest_epoch(steps, steps_per_epoch(N, batch_size)))


def paper_milestone_steps(train: Mapping, paper_epochs: int, paper_per_epoch: int) -> list[int]:
    """The steps after which the paper's schedule decays the lr: int(f x epochs) epochs of ``paper_per_epoch``."""
    return sorted(int(f * int(paper_epochs)) * int(paper_per_epoch) for f in train["lr_milestones"])


def schedule_for(N: int, train: Mapping, steps: int, milestone_steps: list[int]) -> dict:
    """A run's epochs and lr milestones on N prompts: each boundary (every milestone and the end) at the epoch
    boundary nearest the paper's step (:func:`nearest_epoch`, ties up).

    Returns {"epochs", "lr_milestones" (fractions for TrainConfig: int(f x epochs) is the milestone epoch),
    "steps", "milestone_steps"}. The paper's fractions are kept where they already give those epochs."""
    per = steps_per_epoch(N, train["batch_size"])
    E = epochs_for(N, train["batch_size"], steps)
    m = [min(max(nearest_epoch(s, per), 0), E) for s in milestone_steps]
    fractions = [float(f) for f in train["lr_milestones"]]
    if sorted(int(f * E) for f in fractions) != m:  # (m + 1/2) / E: int() of it times E is m, safe from rounding
        fractions = [1.0 if e >= E else (e + 0.5) / E for e in m]
    return dict(epochs=E, lr_milestones=fractions, steps=E * per, milestone_steps=[e * per for e in m])


def _fresh_chunks(case, fresh_prompts, fresh_seed, n, L, case_params):
    """The fresh prompts in chunks of FRESH_CHUNK (numpy reference sampler; chunk i from derive_seed(seed, i))."""
    done, i = 0, 0
    while done < fresh_prompts:
        m = min(FRESH_CHUNK, fresh_prompts - done)
        yield sample_prompts(case, m, derive_seed(fresh_seed, "fresh_chunk", i), n=n, L=L, **case_params)
        done += m
        i += 1


def _scaled_identity_fit(model, case, n, L, case_params, prompts, seed, beta_bounds) -> dict:
    """The best scaled identity (W_KQ = βI, W_PV = αI) on ``prompts`` prompts: {"alpha", "beta", "mse"}."""
    from ..landscape import linear_gamma_star, optimal_scaled_identity

    b = sample_prompts(case, prompts, seed, n=n, L=L, **case_params)
    if model == "linear":  # only gamma = alpha*beta matters: beta = 1, alpha = gamma
        g, mse = linear_gamma_star(b.X, b.x_query, b.x_target)
        return dict(alpha=g, beta=1.0, mse=mse)
    return optimal_scaled_identity(b.X, b.x_query, b.x_target, tuple(float(v) for v in beta_bounds))


def gap_steps(config, case: str) -> int:
    """The paper's optimiser steps of a case, epochs x ceil(n_train / batch_size): every gap_study run takes these."""
    return int(config["cases"][case]["epochs"]) * steps_per_epoch(config["n_train"], config["train"]["batch_size"])


def wanted_runs(config, *, case: str, model: str, L: int) -> list:
    """One (case, model, L) job's runs: at ``gap_study.L`` every N of the sweep (nested datasets: a seed's pool of
    max(N) + n_test prompts, the first N for training, the last n_test for testing), N outer, seeds inner; then the
    online runs (fresh prompts every epoch). Every run takes the paper's optimiser steps of the case and decays the
    lr at the paper's milestone steps, each to the nearest epoch boundary (:func:`schedule_for`)."""
    from ..runs import RunSpec, case_settings

    gs = config["gap_study"]
    train, steps, L = config["train"], gap_steps(config, case), int(L)
    milestones = paper_milestone_steps(
        train, config["cases"][case]["epochs"], steps_per_epoch(config["n_train"], train["batch_size"])
    )
    base = {**case_settings(config, case, L=L), "progress": False}

    def scheduled(N: int, **extra) -> dict:
        plan = schedule_for(N, train, steps, milestones)
        out = {**base, "epochs": plan["epochs"], "eval_every": plan["epochs"], **extra}
        if list(plan["lr_milestones"]) != [float(f) for f in train["lr_milestones"]]:
            out["train"] = {**base["train"], "lr_milestones": plan["lr_milestones"]}
        return out

    N = sorted(int(x) for x in gs["N"]) if L == int(gs["L"]) else []
    out = []
    for Nv in N:
        settings = scheduled(Nv, pool=N[-1] + base["n_test"], train_stop=Nv, test_start=N[-1])
        tags = {"L": L, "N": Nv, "training": "finite"}
        out += [RunSpec("gap_study", case, model, int(s), settings, tags=tags) for s in gs["seeds"]]
    online = {"prompts": int(gs["online_prompts"]), "sampler": "torch"}
    settings = scheduled(int(gs["online_prompts"]), online=online)
    tags = {"L": L, "training": "online"}
    if gs["online_stream"] == "shared":  # every seed trains on the same stream
        tags["stream"] = "shared"
    out += [RunSpec("gap_study", case, model, int(s), settings, tags=dict(tags)) for s in gs["seeds"]]
    return out


def train_gap_study(
    out_runs: str,
    out_refs: str,
    *,
    case: str,
    model: str,
    L: int,
    runs: list[dict],
    fresh_prompts: int,
    landscape_prompts: int,
    beta_bounds: list[float],
    fresh_seed: int,
    landscape_seed: int,
    device: str = "auto",
    threads: int = 1,
    gpu_token: int = 0,
) -> None:
    """One job: the planned ``runs`` of ``model`` on ``case`` at context length L (every N and the online runs),
    then every trained model, the Bayes oracle and the best scaled identity on the same fresh prompts.

    Writes ``out_runs`` (gap_study rows) and ``out_refs`` (Bayes, best scaled identity, theory at this L).
    """
    import time

    import pandas as pd

    from ..runs import runs_from_params, train_runs

    prepare_torch(threads, gpu_token, device)
    t0, c0 = time.perf_counter(), time.process_time()
    planned = runs_from_params(runs)
    n, case_params = int(planned[0].settings["n"]), dict(planned[0].settings["case_params"])
    B = int(planned[0].settings["train"]["batch_size"])
    records = train_runs(planned, device=device, threads=threads, chunk=lambda r: r.tags["training"])
    runs = []  # (row without the fresh columns, W_KQ, W_PV)
    for rec in records:
        res, run, epochs = rec.result, rec.run, int(rec.run.settings["epochs"])
        if run.online:
            per_epoch = int(run.settings["online"]["prompts"])
            n_distinct = epochs * steps_per_epoch(per_epoch, B) * B
        else:
            per_epoch = n_distinct = int(run.tags["N"])
        row = dict(
            case=case,
            model=model,
            training=run.tags["training"],
            N=int(n_distinct),
            L=int(L),
            seed=int(run.seed),
            epochs=epochs,
            steps=epochs * steps_per_epoch(per_epoch, B),
            milestone_steps="/".join(
                str(int(f * epochs) * steps_per_epoch(per_epoch, B))
                for f in sorted(run.settings["train"]["lr_milestones"])
            ),
            train_mse=float(res.train_mse[-1]),
            test_mse=float(res.test_mse[-1]),
            **{k: float(res.info[k]) for k in ("alpha", "beta", "dist_KQ", "dist_PV")},
        )
        runs.append((row, res.W_KQ, res.W_PV))
    t_train = time.perf_counter() - t0

    fit = _scaled_identity_fit(model, case, n, L, case_params, landscape_prompts, landscape_seed, beta_bounds)
    W_si = (np.eye(n) * fit["beta"], np.eye(n) * fit["alpha"])
    per_run = [[] for _ in runs]
    bayes, scaled = [], []
    for batch in _fresh_chunks(case, fresh_prompts, fresh_seed, n, L, case_params):
        pred = oracle_predictions(case, batch.x_query, batch.task, batch.params)["bayes"]
        bayes.append(mse_per_component(pred, batch.x_target))
        scaled.append(model_mse(model, batch.X, batch.x_query, batch.x_target, *W_si))
        for i, (_, W_KQ, W_PV) in enumerate(runs):
            per_run[i].append(model_mse(model, batch.X, batch.x_query, batch.x_target, W_KQ, W_PV))
    bayes, scaled = np.concatenate(bayes), np.concatenate(scaled)
    rows = []
    for (row, _, _), parts in zip(runs, per_run, strict=True):
        v = np.concatenate(parts)
        m, se = mean_se(v)
        ex, ex_se = mean_se(v - bayes)
        vs, vs_se = mean_se(v - scaled)
        rows.append(
            dict(row, fresh_mse=m, fresh_mse_se=se, bayes_mse=float(bayes.mean()), excess_mse=ex, excess_se=ex_se,
                 vs_scaled_identity=vs, vs_scaled_identity_se=vs_se)
        )  # fmt: skip
    df = pd.DataFrame(rows, columns=list(GAP_COLUMNS)).astype(GAP_COLUMNS)
    write_table(df, out_runs)

    ref = dict(case=case, model=model, L=int(L))
    b_m, b_se = mean_se(bayes)
    s_m, s_se = mean_se(scaled)
    s_ex, s_ex_se = mean_se(scaled - bayes)
    nan = float("nan")
    refs = [
        dict(ref, reference="bayes", alpha=nan, beta=nan, num_prompts=bayes.size, mse=b_m, mse_se=b_se,
             excess_mse=0.0, excess_se=0.0),
        dict(ref, reference="scaled_identity_opt", alpha=fit["alpha"], beta=fit["beta"], num_prompts=bayes.size,
             mse=s_m, mse_se=s_se, excess_mse=s_ex, excess_se=s_ex_se),
    ]  # fmt: skip
    if case == "subspace":
        d, s0, sz = int(case_params["d"]), float(case_params["sigma0_2"]), float(case_params["sigma_z2"])
        bt = bayes_mse_subspace(n, d, s0, sz)
        refs.append(dict(ref, reference="bayes_theory", alpha=nan, beta=nan, num_prompts=0, mse=bt, mse_se=0.0,
                         excess_mse=0.0, excess_se=0.0))  # fmt: skip
        if model == "linear":
            th = linear_attention_finite_L_mse(L, n, d, s0, sz)
            g_star = linear_attention_gamma_star(L, d, s0, sz)
            refs.append(dict(ref, reference="finite_L_theory", alpha=g_star, beta=1.0, num_prompts=0, mse=th,
                             mse_se=0.0, excess_mse=th - bt, excess_se=0.0))  # fmt: skip
    write_table(pd.DataFrame(refs, columns=list(REFERENCE_COLUMNS)).astype(REFERENCE_COLUMNS), out_refs)
    log.info(
        "%s/%s L=%d: %d runs; Bayes %.5f, scaled identity %.5f; training %.1f s, all %.1f s wall, %.1f s CPU",
        case,
        model,
        L,
        len(df),
        b_m,
        s_m,
        t_train,
        time.perf_counter() - t0,
        time.process_time() - c0,
    )


def loglog_slope(N, excess, excess_se) -> tuple[float, float, int]:
    """Weighted least-squares slope of log(excess) against log(N) over the points with excess > 0 (a plot aid:
    the summary's slope is :func:`power_law_fit`'s). (NaN, NaN, k) with fewer than 3 usable points."""
    N, e, s = (np.asarray(a, float) for a in (N, excess, excess_se))
    ok = (e > 0) & np.isfinite(e) & np.isfinite(s)
    k = int(ok.sum())
    if k < 3:
        return float("nan"), float("nan"), k
    x, y = np.log(N[ok]), np.log(e[ok])
    sy = np.maximum(s[ok] / e[ok], 1e-12)
    A = np.stack([np.ones_like(x), x], axis=1) / sy[:, None]
    coef, *_ = np.linalg.lstsq(A, y / sy, rcond=None)
    cov = np.linalg.inv(A.T @ A)
    chi2 = float((((A @ coef) - y / sy) ** 2).sum())
    scale = max(1.0, chi2 / (k - 2))
    return float(coef[1]), float(math.sqrt(cov[1, 1] * scale)), k


def power_law_fit(N, excess, excess_se, floor: float, floor_se: float) -> tuple[float, float, int]:
    """The joint weighted fit excess(N) = a + c·N^s with the online floor as one more observation of a (N → ∞).

    No point is dropped (an excess at or below the floor is data) and the floor is a parameter, not subtracted at
    every N. The slope's SE is the fit's, scaled by sqrt(χ²/dof) when that exceeds 1; NaN with fewer than 4
    points (3 parameters). Returns (s, SE(s), points)."""
    from scipy.optimize import curve_fit

    N, e, se = (np.asarray(a, float) for a in (N, excess, excess_se))
    ok = np.isfinite(e) & np.isfinite(se) & (se > 0)
    N, e, se = N[ok], e[ok], se[ok]
    k = int(N.size) + 1
    if k < 4 or not (np.isfinite(floor) and floor_se > 0):
        return float("nan"), float("nan"), k
    x = np.concatenate([N, [np.inf]])
    y, sy = np.concatenate([e, [floor]]), np.concatenate([se, [floor_se]])
    N0 = float(np.exp(np.log(N).mean()))  # c at the geometric-mean N: a well-scaled fit

    def model(xv, a, c, s):
        return a + np.where(np.isfinite(xv), c * (np.where(np.isfinite(xv), xv, 1.0) / N0) ** s, 0.0)

    c0 = max(float(np.interp(N0, N, e) - floor), 1e-3 * float(np.abs(e).max() + 1e-12))
    try:
        p, cov = curve_fit(
            model, x, y, p0=(floor, c0, -1.0), sigma=sy, absolute_sigma=True, maxfev=20000, check_finite=False
        )
    except (RuntimeError, ValueError):
        return float("nan"), float("nan"), k
    chi2 = float((((model(x, *p) - y) / sy) ** 2).sum())
    scale = max(1.0, chi2 / (k - 3)) if k > 3 else 1.0
    return float(p[2]), float(math.sqrt(cov[2, 2] * scale)), k


def bootstrap_part(per_seed, prompt_se, rng) -> tuple[float, float]:
    """A part's seed mean and SE: a bootstrap over the seeds (``per_seed``: one paired difference per seed) and the
    mean prompt SE (seeds share the prompts), in quadrature."""
    v = np.asarray(per_seed, float)
    if v.size == 0:
        return float("nan"), float("nan")
    boots = v[rng.integers(0, v.size, size=(BOOTSTRAP, v.size))].mean(axis=1)
    return float(v.mean()), float(math.hypot(float(boots.std(ddof=1)) if v.size > 1 else 0.0, float(prompt_se)))


def gap_summary(runs, refs, N_ref: int):
    """gap_study_summary rows from the gap_study and reference tables (see SUMMARY_COLUMNS)."""
    import pandas as pd

    out = []
    nan = float("nan")
    finite = runs[runs["training"] == "finite"]
    for (case, model, L), fin in finite.groupby(["case", "model", "L"], sort=True):
        onl = runs[
            (runs["case"] == case) & (runs["model"] == model) & (runs["L"] == L) & (runs["training"] == "online")
        ].set_index("seed")
        rf = refs[(refs["case"] == case) & (refs["model"] == model) & (refs["L"] == L)].set_index("reference")
        bayes, bayes_se = float(rf.at["bayes", "mse"]), float(rf.at["bayes", "mse_se"])
        theory_bayes = float(rf.at["bayes_theory", "mse"]) if "bayes_theory" in rf.index else nan
        at = fin[fin["N"] == int(N_ref)].set_index("seed")
        seeds = sorted(set(at.index) & set(onl.index))
        at_s, on_s = at.loc[seeds], onl.loc[seeds]
        est_se = math.hypot(at_s["excess_se"].mean(), on_s["excess_se"].mean())
        parts = {}
        for name, per_seed, se in (
            ("total", at_s["excess_mse"], at_s["excess_se"].mean()),
            ("est", at_s["excess_mse"] - on_s["excess_mse"], est_se),
            ("optim", on_s["vs_scaled_identity"], on_s["vs_scaled_identity_se"].mean()),
            ("floor", on_s["fresh_mse"], on_s["fresh_mse_se"].mean()),
            ("fresh", at_s["fresh_mse"], at_s["fresh_mse_se"].mean()),
        ):
            # every part resamples the same seeds: one generator seed for all
            parts[name] = bootstrap_part(per_seed, se, np.random.default_rng(BOOTSTRAP_SEED))
        si = rf.loc["scaled_identity_opt"]
        approx, approx_se = float(si["excess_mse"]), float(si["excess_se"])
        total = parts["total"][0]
        # estimation excess of every N over the floor, for the joint fit (seed means of the paired excess)
        Ns, ex, ex_se = [], [], []
        for Nv, g in fin.groupby("N", sort=True):
            m, s_ = seed_mean(g["excess_mse"], g["excess_se"])
            Ns.append(Nv)
            ex.append(m)
            ex_se.append(s_)
        f_m, f_se = seed_mean(on_s["excess_mse"], on_s["excess_se"]) if len(seeds) else (nan, nan)
        slope, slope_se, k = power_law_fit(Ns, ex, ex_se, f_m, f_se)
        theory = float(rf.at["finite_L_theory", "mse"]) if "finite_L_theory" in rf.index else nan
        out.append(
            dict(
                case=case,
                model=model,
                L=int(L),
                N_ref=int(N_ref),
                seeds=len(seeds),
                bayes_mse=bayes,
                bayes_se=bayes_se,
                bayes_theory_mse=theory_bayes,
                floor_mse=parts["floor"][0],
                floor_se=parts["floor"][1],
                fresh_mse=parts["fresh"][0],
                fresh_se=parts["fresh"][1],
                total_gap=total,
                total_gap_se=parts["total"][1],
                est_gap=parts["est"][0],
                est_gap_se=parts["est"][1],
                optim_gap=parts["optim"][0],
                optim_gap_se=parts["optim"][1],
                approx_gap=approx,
                approx_gap_se=approx_se,
                est_share=parts["est"][0] / total if total else nan,
                optim_share=parts["optim"][0] / total if total else nan,
                approx_share=approx / total if total else nan,
                scaled_identity_mse=float(si["mse"]),
                scaled_identity_se=float(si["mse_se"]),
                scaled_identity_alpha=float(si["alpha"]),
                scaled_identity_beta=float(si["beta"]),
                finite_L_theory_mse=theory,
                slope=slope,
                slope_se=slope_se,
                slope_points=k,
            )
        )
    return pd.DataFrame(out, columns=list(SUMMARY_COLUMNS)).astype(SUMMARY_COLUMNS)


def gather_gap_study(
    run_paths: list[str], ref_paths: list[str], out_table: str, out_refs: str, out_summary: str, *, N_ref: int
) -> None:
    """Per-job tables -> gap_study.parquet, gap_study_references.parquet and gap_study_summary.parquet."""
    import pandas as pd

    if not run_paths:
        raise ValueError("gather_gap_study: no runs given")
    runs = pd.concat([read_table(p, list(GAP_COLUMNS)) for p in run_paths], ignore_index=True)
    runs = runs.astype(GAP_COLUMNS).sort_values(["case", "model", "training", "L", "N", "seed"], ignore_index=True)
    refs = pd.concat([read_table(p, list(REFERENCE_COLUMNS)) for p in ref_paths], ignore_index=True)
    refs = refs.astype(REFERENCE_COLUMNS).sort_values(["case", "model", "L", "reference"], ignore_index=True)
    summary = gap_summary(runs, refs, N_ref)
    write_table(runs, out_table)
    write_table(refs, out_refs)
    write_table(summary, out_summary)
    for r in summary.itertuples():
        log.info(
            "%s/%s: Bayes %.5f, floor %.5f, fresh(N=%d) %.5f; estimation %.0f%%, optimisation %.0f%%, "
            "approximation %.0f%% of the gap; slope %.2f ± %.2f",
            r.case,
            r.model,
            r.bayes_mse,
            r.floor_mse,
            r.N_ref,
            r.fresh_mse,
            100 * r.est_share,
            100 * r.optim_share,
            100 * r.approx_share,
            r.slope,
            r.slope_se,
        )
