"""Phase diagrams (phase_diagram, beyond the paper): Figure 3 training at every point of a grid of settings.

A grid is per case: axes (config keys such as ``cases.sphere.sigma_z2``, ``L``, ``n``, ``n_train``, a case's
``d``) with value lists, combined as a product, and/or explicit points. At every point the config with the
point's values applied trains the Figure 3 runs of the case (``plan_runs(point_config, "training_dynamics")``:
the same seeds, so the point at the config's own values is Figure 3 itself) for the study's models and seeds,
and evaluates

* every trained model and the Bayes oracle on ``fresh_prompts`` fresh prompts (paired: the same prompts);
* the best scaled identity (W_KQ = βI, W_PV = αI) fitted on ``landscape_prompts`` other prompts;
* the theory at the point: γ*(L) and its finite-L MSE (subspace), 1/σZ² (sphere heuristic, mixture Eq. 8),
  1/(σ0²+σZ²) (mixture, Prop. 4), and the closed-form Bayes MSE (subspace).

One job trains a block of points of one case (points of equal L, at most ``block_points``), one ensemble per
point. Each point's results are gathered into a folder named by its values (``<case>/sigma_z2=0.1/L=500/``,
the Paramspace convention of one ``key=value`` level per axis), with one tidy table over the grid
(phase_diagram.parquet) and the per-point checks of the paper's statements
(:mod:`icdenoise.claims.phase_diagram`).
"""

from __future__ import annotations

import copy
import itertools
import logging
import math

import numpy as np

from ..io import read_table, write_table
from ..jobs import prepare_torch

log = logging.getLogger("icdenoise")

#: Top-level and train keys a grid axis may set (with every key of the grid's own case, ``cases.<case>.*``).
AXIS_KEYS = ("n", "L", "n_train", "n_test", "train.batch_size", "train.lr", "train.lr_gamma")

#: The settings columns of every table: where each point sits (NaN where a case has no such parameter).
SETTINGS_COLUMNS = {
    "n": "int64",
    "L": "int64",
    "n_train": "int64",
    "n_test": "int64",
    "epochs": "int64",
    "batch_size": "int64",
    "lr": "float64",
    "d": "float64",  # subspace, sphere
    "p": "float64",  # gmm
    "R": "float64",  # sphere, gmm
    "sigma0_2": "float64",  # subspace, gmm
    "sigma_z2": "float64",
}

#: phase_diagram_runs.parquet: one row per trained run.
RUN_COLUMNS = {
    "case": "string",
    "point": "string",  # the point's folder under <case>/: "sigma_z2=0.1/L=500"
    **SETTINGS_COLUMNS,
    "model": "string",
    "seed": "int64",
    "train_mse": "float64",  # final epoch, the n_train training prompts
    "test_mse": "float64",  # final epoch, the n_test held-out prompts
    "fresh_mse": "float64",  # fresh prompts: the expected MSE
    "fresh_se": "float64",
    "excess_mse": "float64",  # fresh_mse - Bayes on the same prompts
    "excess_se": "float64",
    "alpha": "float64",  # mean diagonal of W_PV (signed)
    "beta": "float64",  # mean diagonal of W_KQ (signed)
    "alpha_beta": "float64",
    "dist_KQ": "float64",
    "dist_PV": "float64",
}

#: The per-job references of each (point, model): Bayes, the best scaled identity, the theory.
REFERENCE_COLUMNS = {
    "case": "string",
    "point": "string",
    "model": "string",
    "fresh_prompts": "int64",
    "bayes_mc": "float64",  # the Bayes oracle on the fresh prompts
    "bayes_mc_se": "float64",
    "bayes_theory": "float64",  # closed form (subspace, Prop. 2); NaN elsewhere
    "scaled_identity_alpha": "float64",
    "scaled_identity_beta": "float64",
    "scaled_identity_mse": "float64",  # on the fresh prompts
    "scaled_identity_se": "float64",
    "gamma_star": "float64",  # subspace: γ*(L) = L/((σ0²+σZ²)(L+d+1)); NaN elsewhere
    "finite_L_mse": "float64",  # subspace: the linear-attention MSE at γ*(L)
    "beta_heuristic": "float64",  # sphere, gmm: 1/σZ² (sphere heuristic; mixture σ0 → 0, Eq. 8)
    "beta_prop4": "float64",  # gmm: 1/(σ0²+σZ²) (Prop. 4)
}

#: phase_diagram.parquet: one row per (case, point, model), seed means with their SE.
TABLE_COLUMNS = {
    "case": "string",
    "point": "string",
    **SETTINGS_COLUMNS,
    "model": "string",
    "seeds": "int64",
    "test_mse": "float64",
    "test_se": "float64",  # seed SE
    "fresh_mse": "float64",
    "fresh_se": "float64",  # prompts and seeds
    "bayes_mse": "float64",  # the reference: closed form where one exists, else the fresh-prompt Monte Carlo
    "bayes_se": "float64",
    "bayes_source": "string",
    "test_ratio": "float64",  # test_mse / bayes_mse
    "fresh_ratio": "float64",
    "abs_alpha": "float64",  # seed means of |α|, |β| (sign symmetry) and of αβ
    "abs_beta": "float64",
    "abs_beta_max": "float64",  # the largest |β| over seeds
    "alpha_beta": "float64",
    "alpha_beta_se": "float64",
    **{k: v for k, v in REFERENCE_COLUMNS.items() if k not in ("case", "point", "model")},
}


# ----------------------------------------------------------------------------- the grid


def section(config) -> dict:
    return config.get("phase_diagram") or {}


def short_name(case: str, key: str) -> str:
    """An axis key as it names a folder level: ``cases.<case>.x`` -> ``x``; others as written (``L``, ``train.lr``)."""
    prefix = f"cases.{case}."
    return key[len(prefix) :] if key.startswith(prefix) else key


def format_value(v) -> str:
    """A value as it appears in a folder name: 500, 0.1, 2 (for 2.0)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else format(float(v), "g")


def grid_points(config, case: str) -> list[tuple]:
    """The points of a case's grid, in order: the product of ``axes`` (first axis outer), then ``points``.

    A point is a tuple of (config key, value) pairs."""
    spec = (section(config).get("grids") or {}).get(case) or {}
    out = []
    axes = spec.get("axes") or {}
    if axes:
        keys = list(axes)
        out += [tuple(zip(keys, vals, strict=True)) for vals in itertools.product(*(axes[k] for k in keys))]
    for p in spec.get("points") or []:
        out.append(tuple(p.items()))
    seen, unique = set(), []
    for p in out:
        if p not in seen:
            seen.add(p)
            unique.append(p)
    return unique


def point_folder(case: str, point: tuple) -> str:
    """The folder of a point under ``<case>/``: one ``name=value`` level per axis (``sigma_z2=0.1/L=500``)."""
    return "/".join(f"{short_name(case, k)}={format_value(v)}" for k, v in point) or "base"


def apply_point(config, point: tuple) -> dict:
    """A deep copy of ``config`` with the point's values set (dotted keys: ``cases.sphere.sigma_z2``)."""
    out = copy.deepcopy(config)
    for key, value in point:
        node = out
        *path, last = key.split(".")
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def point_settings(config, case: str, point: tuple) -> dict:
    """The settings columns of a point (see SETTINGS_COLUMNS)."""
    c = apply_point(config, point)
    block = c["cases"][case]
    nan = float("nan")
    return dict(
        n=int(c["n"]),
        L=int(c["L"]),
        n_train=int(c["n_train"]),
        n_test=int(c["n_test"]),
        epochs=int(block["epochs"]),
        batch_size=int(c["train"]["batch_size"]),
        lr=float(c["train"]["lr"]),
        **{k: float(block[k]) if k in block else nan for k in ("d", "p", "R", "sigma0_2", "sigma_z2")},
    )


def cases(config) -> list[str]:
    """The cases with a grid (in the order of ``cases``)."""
    grids = section(config).get("grids") or {}
    return [c for c in config.get("cases", {}) if c in grids]


def blocks(config) -> dict[tuple[str, str], list[tuple]]:
    """The jobs: (case, block name) -> its points. A block holds points of one case and one L (their prompts have
    one shape), at most ``block_points`` of them; named ``L<L>_<k>``."""
    size = int(section(config).get("block_points", 5))
    out = {}
    for case in cases(config):
        by_L: dict[int, list] = {}
        for p in grid_points(config, case):
            by_L.setdefault(int(apply_point(config, p)["L"]), []).append(p)
        for L, pts in by_L.items():
            for k in range(0, len(pts), size):
                out[(case, f"L{L}_{k // size}")] = pts[k : k + size]
    return out


def block_cost(config, case: str, block: str) -> int:
    """A block's relative cost (points x L x epochs): the longest jobs start first."""
    pts = blocks(config)[(case, block)]
    return sum(int(apply_point(config, p)["L"]) * int(apply_point(config, p)["cases"][case]["epochs"]) for p in pts)


def point_runs(config, case: str, point: tuple) -> list:
    """The Figure 3 runs of ``case`` at ``point`` (the study's models and seeds), tagged with the point, evaluated
    on their splits at the last epoch only (the weights do not depend on how often they are evaluated)."""
    import dataclasses

    from ..runs import plan_runs

    pd_ = section(config)
    cfg = apply_point(config, point)
    runs = plan_runs(cfg, "training_dynamics", case=case, models=pd_["models"], seeds=pd_["seeds"])
    tags = {"point": point_folder(case, point)}
    out = []
    for r in runs:
        settings = {**r.settings, "eval_every": int(r.settings["epochs"]), "progress": False}
        out.append(dataclasses.replace(r, settings=settings, tags=tags))
    return out


def block_runs(config, case: str, block: str) -> list:
    """Every run of a block, point by point."""
    return [r for p in blocks(config)[(case, block)] for r in point_runs(config, case, p)]


# ----------------------------------------------------------------------------- one job: a block of points


def theory(case: str, model: str, s: dict) -> dict:
    """The theory columns of a (case, model) at settings ``s`` (see REFERENCE_COLUMNS)."""
    from ..bayes import bayes_mse_subspace, linear_attention_finite_L_mse, linear_attention_gamma_star

    nan = float("nan")
    out = dict(bayes_theory=nan, gamma_star=nan, finite_L_mse=nan, beta_heuristic=nan, beta_prop4=nan)
    sz = s["sigma_z2"]
    if case == "subspace":
        d, s0 = int(s["d"]), s["sigma0_2"]
        out["bayes_theory"] = bayes_mse_subspace(s["n"], d, s0, sz)
        out["gamma_star"] = linear_attention_gamma_star(s["L"], d, s0, sz)
        out["finite_L_mse"] = linear_attention_finite_L_mse(s["L"], s["n"], d, s0, sz)
    elif case == "sphere":
        out["beta_heuristic"] = 1.0 / sz
    elif case == "gmm":
        out["beta_heuristic"] = 1.0 / sz
        out["beta_prop4"] = 1.0 / (s["sigma0_2"] + sz)
    return out


def _evaluate_point(case, folder, settings, records, fresh_prompts, landscape_prompts, beta_bounds, seeds):
    """A point's run rows and reference rows: every trained model, Bayes and the scaled identity on the same fresh
    prompts; the scaled identity fitted on other prompts; the theory."""
    from ..bayes import mse_per_component, oracle_predictions
    from ..tasks import sample_prompts
    from .common import mean_se, model_mse
    from .gap_study import _scaled_identity_fit

    n, L = settings["n"], settings["L"]
    case_params = dict(records[0].run.settings["case_params"])
    fresh = sample_prompts(case, fresh_prompts, seeds["fresh"], n=n, L=L, **case_params)
    bayes = mse_per_component(
        oracle_predictions(case, fresh.x_query, fresh.task, fresh.params)["bayes"], fresh.x_target
    )
    b_m, b_se = mean_se(bayes)
    rows, refs = [], []
    for rec in records:
        res, run = rec.result, rec.run
        v = model_mse(run.model, fresh.X, fresh.x_query, fresh.x_target, res.W_KQ, res.W_PV)
        m, se = mean_se(v)
        ex, ex_se = mean_se(v - bayes)
        a, b = float(res.info["alpha"]), float(res.info["beta"])
        rows.append(
            dict(
                case=case,
                point=folder,
                **settings,
                model=run.model,
                seed=int(run.seed),
                train_mse=float(res.train_mse[-1]),
                test_mse=float(res.test_mse[-1]),
                fresh_mse=m,
                fresh_se=se,
                excess_mse=ex,
                excess_se=ex_se,
                alpha=a,
                beta=b,
                alpha_beta=a * b,
                dist_KQ=float(res.info["dist_KQ"]),
                dist_PV=float(res.info["dist_PV"]),
            )
        )
    for model in dict.fromkeys(r.run.model for r in records):
        bounds = [float(x) / settings["sigma_z2"] for x in beta_bounds]
        fit = _scaled_identity_fit(model, case, n, L, case_params, landscape_prompts, seeds["landscape"], bounds)
        W_si = (np.eye(n) * fit["beta"], np.eye(n) * fit["alpha"])
        s_m, s_se = mean_se(model_mse(model, fresh.X, fresh.x_query, fresh.x_target, *W_si))
        refs.append(
            dict(
                case=case,
                point=folder,
                model=model,
                fresh_prompts=int(fresh_prompts),
                bayes_mc=b_m,
                bayes_mc_se=b_se,
                scaled_identity_alpha=float(fit["alpha"]),
                scaled_identity_beta=float(fit["beta"]),
                scaled_identity_mse=s_m,
                scaled_identity_se=s_se,
                **theory(case, model, settings),
            )
        )
    return rows, refs


def train_phase_diagram(
    out_runs: str,
    out_refs: str,
    *,
    case: str,
    points: list[dict],
    runs: list[dict],
    fresh_prompts: int,
    landscape_prompts: int,
    beta_bounds: list[float],
    device: str = "auto",
    threads: int = 1,
    gpu_token: int = 0,
) -> None:
    """One job: the planned ``runs`` of a block of points of ``case`` (one ensemble per point), then each point's
    evaluation (:func:`_evaluate_point`). ``points``: [{"folder", "settings", "fresh_seed", "landscape_seed"}].

    Writes ``out_runs`` (RUN_COLUMNS rows) and ``out_refs`` (REFERENCE_COLUMNS rows)."""
    import time

    import pandas as pd

    from ..runs import runs_from_params, train_runs

    prepare_torch(threads, gpu_token, device)
    t0, c0 = time.perf_counter(), time.process_time()
    by_folder = {p["folder"]: p for p in points}
    rows, refs = [], []

    def evaluate(records):
        p = by_folder[records[0].run.tags["point"]]
        seeds = {"fresh": int(p["fresh_seed"]), "landscape": int(p["landscape_seed"])}
        r, f = _evaluate_point(
            case, p["folder"], p["settings"], records, fresh_prompts, landscape_prompts, beta_bounds, seeds
        )
        rows.extend(r)
        refs.extend(f)

    train_runs(
        runs_from_params(runs), device=device, threads=threads, chunk=lambda r: r.tags["point"], evaluate=evaluate
    )
    write_table(pd.DataFrame(rows, columns=list(RUN_COLUMNS)).astype(RUN_COLUMNS), out_runs)
    write_table(pd.DataFrame(refs, columns=list(REFERENCE_COLUMNS)).astype(REFERENCE_COLUMNS), out_refs)
    log.info(
        "%s: %d points, %d runs; %.1f s wall, %.1f s CPU",
        case,
        len(points),
        len(rows),
        time.perf_counter() - t0,
        time.process_time() - c0,
    )


def job_points(config, case: str, block: str) -> list[dict]:
    """The ``points`` param of a block's job (see :func:`train_phase_diagram`)."""
    from ..runs import job_seed

    out = []
    for p in blocks(config)[(case, block)]:
        folder = point_folder(case, p)
        out.append(
            dict(
                folder=folder,
                settings=point_settings(config, case, p),
                fresh_seed=job_seed(config, "phase_diagram_fresh", case, folder),
                landscape_seed=job_seed(config, "phase_diagram_landscape", case, folder),
            )
        )
    return out


# ----------------------------------------------------------------------------- gathering


def summarise(runs, refs):
    """phase_diagram.parquet rows (TABLE_COLUMNS) from the run and reference rows."""
    import pandas as pd

    from ..verdict import Stats
    from ..verdict import seed_mean as _seed_mean

    refs = refs.set_index(["case", "point", "model"])
    out = []
    for (case, point, model), g in runs.groupby(["case", "point", "model"], sort=False):
        ref = refs.loc[(case, point, model)]
        settings = {k: g[k].iloc[0] for k in SETTINGS_COLUMNS}
        closed = bool(np.isfinite(ref["bayes_theory"]))
        bayes, bayes_se = (
            (float(ref["bayes_theory"]), 0.0) if closed else (float(ref["bayes_mc"]), float(ref["bayes_mc_se"]))
        )
        test, ab = Stats(g["test_mse"]), Stats(g["alpha_beta"])  # seed means and their SE (sd / √seeds)
        fresh, fresh_se = _seed_mean(g["fresh_mse"], g["fresh_se"])
        out.append(
            dict(
                case=case,
                point=point,
                **settings,
                model=model,
                seeds=int(g["seed"].nunique()),
                test_mse=test.mean,
                test_se=test.se,
                fresh_mse=fresh,
                fresh_se=fresh_se,
                bayes_mse=bayes,
                bayes_se=bayes_se,
                bayes_source="closed form" if closed else "fresh prompts",
                test_ratio=test.mean / bayes,
                fresh_ratio=fresh / bayes,
                abs_alpha=float(g["alpha"].abs().mean()),
                abs_beta=float(g["beta"].abs().mean()),
                abs_beta_max=float(g["beta"].abs().max()),
                alpha_beta=ab.mean,
                alpha_beta_se=ab.se,
                **{k: ref[k] for k in REFERENCE_COLUMNS if k not in ("case", "point", "model")},
            )
        )
    return pd.DataFrame(out, columns=list(TABLE_COLUMNS)).astype(TABLE_COLUMNS)


def gather_phase_diagram(
    run_paths: list[str],
    ref_paths: list[str],
    out_table: str,
    out_runs: str,
    out_checks: str,
    out_summary: str,
    out_points: str,
    *,
    tolerances: dict,
) -> None:
    """Per-job tables -> phase_diagram.parquet (the tidy grid), phase_diagram_runs.parquet, the per-point checks
    and their summary; and one folder per point under ``out_points`` (``<case>/<point>/``: its rows and
    settings)."""
    import os

    import pandas as pd
    import yaml

    from ..claims.phase_diagram import check_points, summarise_checks

    if not run_paths:
        raise ValueError("gather_phase_diagram: no runs given")
    runs = pd.concat([read_table(p, list(RUN_COLUMNS)) for p in run_paths], ignore_index=True).astype(RUN_COLUMNS)
    refs = pd.concat([read_table(p, list(REFERENCE_COLUMNS)) for p in ref_paths], ignore_index=True)
    refs = refs.astype(REFERENCE_COLUMNS)
    table = summarise(runs, refs)
    checks = check_points(table, tolerances)
    write_table(table, out_table)
    write_table(runs, out_runs)
    write_table(checks, out_checks)
    summary = summarise_checks(checks)
    write_table(summary, out_summary)
    for (case, point), g in table.groupby(["case", "point"], sort=False):
        folder = os.path.join(out_points, case, point)
        os.makedirs(folder, exist_ok=True)
        write_table(g.reset_index(drop=True), os.path.join(folder, "summary.parquet"))
        sel = (runs["case"] == case) & (runs["point"] == point)
        write_table(runs[sel].reset_index(drop=True), os.path.join(folder, "runs.parquet"))
        sel = (checks["case"] == case) & (checks["point"] == point)
        write_table(checks[sel].reset_index(drop=True), os.path.join(folder, "checks.parquet"))
        settings = {k: (v.item() if hasattr(v, "item") else v) for k, v in g.iloc[0][list(SETTINGS_COLUMNS)].items()}
        settings = {k: v for k, v in settings.items() if not (isinstance(v, float) and math.isnan(v))}
        with open(os.path.join(folder, "point.yaml"), "w") as f:
            yaml.safe_dump({"case": case, "point": point, "settings": settings}, f, sort_keys=False)
    for r in summary.itertuples():
        log.info("%s (%s/%s): holds at %d of %d points", r.statement, r.case, r.model, r.holds, r.points)
