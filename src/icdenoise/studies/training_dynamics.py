"""Figure 3 (training_dynamics): sample prompts, train each (case, model, seed), evaluate the oracles, gather.

What the rules of ``workflow/rules/training_dynamics.smk`` call (and the tests call without Snakemake):
each function reads its inputs, calls the science modules and writes its outputs atomically.
"""

from __future__ import annotations

import logging

import numpy as np

from ..io import concat_tables, load_prompts, load_run, save_prompts, write_table
from ..tasks import CASE_PARAMS, sample_prompts

log = logging.getLogger("icdenoise")


def sample_datasets(
    outs: list[str], *, case: str, rng_seeds: list[int], n: int, L: int, num_prompts: int, params: dict
) -> None:
    """Rule sample_prompts: one dataset of ``num_prompts`` prompts of ``case`` per rng seed, written to ``outs``."""
    for out, seed in zip(outs, rng_seeds, strict=True):
        batch = sample_prompts(case, num_prompts, seed, n=n, L=L, **params)
        batch.params["seed"] = int(seed)
        save_prompts(out, batch)
        log.info(
            "sampled %d prompts of case %s (n=%d, L=%d, %s) with seed %d -> %s",
            num_prompts,
            case,
            n,
            L,
            params,
            seed,
            out,
        )


def data_index(config, seed: int) -> int:
    """The dataset a training seed uses: its own (``dataset: per_seed``) or the shared one."""
    return int(config["shared_data_seed"]) if config["dataset"] == "shared" else int(seed)


def wanted_runs(config, *, case: str, models=None, seeds=None, data_path=None, dataset: str | None = None) -> list:
    """The Figure 3 runs of ``case``: every (model, seed), models outer; trained on the first n_train prompts of its
    data seed's dataset (``data_path(case, data_index)``, the sample_prompts file, or sampled in the job), tested on
    the rest. ``dataset`` overrides the config's dataset choice (deviation (c) retrains on the other one)."""
    from ..runs import RunSpec, case_settings

    models = list(config["models"]) if models is None else list(models)
    seeds = list(config["seeds"]) if seeds is None else list(seeds)
    chosen = {**config, "dataset": dataset or config["dataset"]}
    settings = case_settings(config, case)
    out = []
    for model in models:
        for seed in seeds:
            i = data_index(chosen, seed)
            out.append(
                RunSpec(
                    "training_dynamics",
                    case,
                    model,
                    int(seed),
                    settings,
                    data_index=i,
                    data_path=data_path(case, i) if data_path else None,
                )
            )
    return out


def _mse_rows(case, seed, split, batch_x_query, batch_x_target, task, params):
    """One row per oracle: its MSE with SE, and its paired difference to Bayes on the same prompts with SE."""
    from ..bayes import mse_per_component, oracle_predictions

    errs = {
        name: mse_per_component(pred, batch_x_target)
        for name, pred in oracle_predictions(case, batch_x_query, task, params).items()
    }
    rows = []
    for name, err in errs.items():
        delta = err - errs["bayes"]
        rows.append(
            dict(
                case=case,
                seed=int(seed),
                estimator=name,
                split=split,
                num_prompts=int(err.size),
                mse=float(err.mean()),
                mse_se=_se(err),
                delta_vs_bayes=float(delta.mean()),
                delta_vs_bayes_se=_se(delta),
            )
        )
    return rows


BASELINE_COLUMNS = {
    "case": "string",
    "seed": "int64",
    "estimator": "string",
    "split": "string",
    "num_prompts": "int64",
    "mse": "float64",
    "mse_se": "float64",
    "delta_vs_bayes": "float64",
    "delta_vs_bayes_se": "float64",
}


def _se(values: np.ndarray) -> float:
    return float(values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else float("nan")


def evaluate_baselines(
    data_paths: list[str],
    out: str,
    *,
    case: str,
    data_seeds: list[int],
    n_train: int,
    fresh_prompts: int,
    fresh_seeds: list[int],
) -> None:
    """Rule evaluate_baselines: every oracle of ``case`` on the train/test prompts of each dataset, on fresh
    prompts (one fresh sample per data seed), and in closed form; one table for the case."""
    import pandas as pd

    from ..bayes import theory_mse

    rows = []
    for data_path, seed, fresh_seed in zip(data_paths, data_seeds, fresh_seeds, strict=True):
        batch = load_prompts(data_path)
        params = {k: batch.params[k] for k in CASE_PARAMS[case]}
        n = batch.X.shape[-1]
        for split, sl in (("train", slice(0, n_train)), ("test", slice(n_train, None))):
            task = {k: v[sl] for k, v in batch.task.items()}
            xq = batch.x_query[sl].astype(np.float64)
            rows += _mse_rows(case, seed, split, xq, batch.x_target[sl], task, params)
        # Oracles ignore the context: fresh prompts with L = 1 give the expected MSE cheaply.
        fresh = sample_prompts(case, fresh_prompts, fresh_seed, n=n, L=1, **params)
        rows += _mse_rows(case, seed, "fresh", fresh.x_query.astype(np.float64), fresh.x_target, fresh.task, params)
        for name, value in theory_mse(case, n, params).items():
            rows.append(
                dict(
                    case=case,
                    seed=int(seed),
                    estimator=name,
                    split="theory",
                    num_prompts=0,
                    mse=float(value),
                    mse_se=0.0,
                    delta_vs_bayes=float("nan"),
                    delta_vs_bayes_se=float("nan"),
                )
            )
    df = pd.DataFrame(rows).astype(BASELINE_COLUMNS)
    write_table(df, out)
    log.info("baselines of case %s:\n%s", case, df.to_string(index=False))


def _dist_from_identity(W: np.ndarray, scale: float) -> float:
    """‖W − scale·I‖_F / ‖W‖_F: how far a weight matrix is from a scaled identity."""
    return float(np.linalg.norm(W - scale * np.eye(W.shape[0])) / np.linalg.norm(W))


def gather_runs(run_paths: list[str], out_curves: str, out_weights: str, out_matrices: str, out_meta: str) -> None:
    """Collect training runs into the curves, final-weights, weight-matrix and run-metadata tables."""
    import pandas as pd

    curves, weights, matrices, meta_rows = [], [], [], []
    for path in sorted(run_paths):
        arrays, meta = load_run(path)
        case, model, seed = meta["case"], meta["model"], meta["seed"]
        E = len(arrays["train_mse"])
        for split in ("train", "test"):
            curves.append(
                pd.DataFrame(
                    {
                        "case": case,
                        "model": model,
                        "seed": seed,
                        "epoch": np.arange(E),
                        "split": split,
                        "mse": arrays[f"{split}_mse"],
                        "lr": arrays["lr"],
                        "alpha": arrays["alpha"],
                        "beta": arrays["beta"],
                        # train rows: the mean of the epoch's batch losses (the authors' train loss)
                        "train_mse_batch_avg": arrays["train_mse_batch_avg"] if split == "train" else np.nan,
                    }
                )
            )
        W_KQ, W_PV = arrays["W_KQ"], arrays["W_PV"]
        n = W_KQ.shape[0]
        a, b = float(np.mean(np.diag(W_PV))), float(np.mean(np.diag(W_KQ)))
        weights.append(
            dict(
                case=case,
                model=model,
                seed=seed,
                data_seed=meta["data_seed"],
                epochs=meta["epochs"],
                alpha=a,
                beta=b,
                abs_alpha=abs(a),
                abs_beta=abs(b),
                alpha_beta=a * b,
                dist_KQ=_dist_from_identity(W_KQ, b),
                dist_PV=_dist_from_identity(W_PV, a),
                train_mse=float(arrays["train_mse"][-1]),
                test_mse=float(arrays["test_mse"][-1]),
            )
        )
        rr, cc = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        for name, W in (("W_KQ", W_KQ), ("W_PV", W_PV)):
            matrices.append(
                pd.DataFrame(
                    {
                        "case": case,
                        "model": model,
                        "seed": seed,
                        "matrix": name,
                        "row": rr.ravel(),
                        "col": cc.ravel(),
                        "value": W.ravel(),
                    }
                )
            )
        v = meta.get("versions", {})
        meta_rows.append(
            dict(
                case=case,
                model=model,
                seed=seed,
                device=meta["device"],
                seconds=meta["seconds"],
                threads=meta["settings"].get("threads"),
                kernel=meta.get("kernel", "torch"),
                ensemble_size=meta.get("ensemble_size", 1),
                **{f"version_{k}": str(x) for k, x in v.items()},
            )
        )
    str_cols = {"case": "string", "model": "string"}
    write_table(
        pd.concat(curves, ignore_index=True).astype({**str_cols, "split": "string", "seed": "int64", "epoch": "int64"}),
        out_curves,
    )
    write_table(pd.DataFrame(weights).astype({**str_cols, "seed": "int64"}), out_weights)
    write_table(
        pd.concat(matrices, ignore_index=True).astype(
            {**str_cols, "matrix": "string", "seed": "int64", "row": "int64", "col": "int64"}
        ),
        out_matrices,
    )
    meta_types = {**str_cols, "device": "string", "kernel": "string", "seed": "int64", "ensemble_size": "int64"}
    write_table(pd.DataFrame(meta_rows).astype(meta_types), out_meta)


def gather_training_dynamics(
    run_paths, baseline_paths, out_curves, out_weights, out_matrices, out_baselines, out_meta
) -> None:
    """Rule gather_training_dynamics: the runs' tables (:func:`gather_runs`) and the baselines table."""
    gather_runs(list(run_paths), out_curves, out_weights, out_matrices, out_meta)
    concat_tables(list(baseline_paths), out_baselines)
