"""Figure 4a (context_sweep): linear and softmax attention trained on the subspace case at each context length L.

For each (L, seed) a fresh subspace dataset (n_train + n_test prompts with L context tokens) is sampled and
every model is trained on it exactly as in Figure 3; the final train/test MSE, the MSE on fresh prompts (an
estimate of the expected MSE with 10x less noise than the 200 test prompts) and the final α, β are kept.
Every MSE is per component, ‖x̂ − x‖²/n, a mean over prompts, with its standard error.
"""

from __future__ import annotations

import logging

import numpy as np

from ..io import load_run, save_run, write_table
from ..jobs import prepare_torch
from ..tasks import sample_prompts
from .common import mean_se, model_mse, run_record, split_member

log = logging.getLogger("icdenoise")

#: Column dtypes of the tables written here (explicit, so empty or odd inputs cannot change them).
CONTEXT_SWEEP_COLUMNS = {
    "model": "string",
    "L": "int64",
    "seed": "int64",
    "epochs": "int64",
    "train_mse": "float64",
    "test_mse": "float64",
    "min_test_mse": "float64",
    "fresh_mse": "float64",
    "fresh_mse_se": "float64",
    "alpha": "float64",
    "beta": "float64",
    "alpha_beta": "float64",
    "dist_KQ": "float64",
    "dist_PV": "float64",
}


CONTEXT_THEORY_COLUMNS = {
    "L": "int64",
    "n": "int64",
    "d": "int64",
    "sigma0_2": "float64",
    "sigma_z2": "float64",
    "gamma_star": "float64",
    "finite_L_mse": "float64",
    "bayes_mse": "float64",
    "zero_mse": "float64",
}


def train_context_sweep(
    outs: list[str],
    *,
    runs: list[dict],
    n: int,
    n_train: int,
    n_test: int,
    case_params: dict,
    epochs: int,
    train_settings: dict,
    fresh_prompts: int,
    fresh_seeds: dict,
    device: str = "auto",
    threads: int = 1,
    gpu_token: int = 0,
) -> list[dict]:
    """Fig. 4a training job: the runs ``runs[i]`` = {"model", "L", "seed", "train_seed", "data_seed"} -> ``outs[i]``.

    For each context length L: sample the subspace dataset of each data seed at that L (n_train + n_test
    prompts), train every run at that L as one batched ensemble (each member exactly as it would be trained
    alone), and evaluate each trained model on ``fresh_prompts`` fresh prompts at the same L (seed
    ``fresh_seeds[L]``; the same prompts for every model and seed: paired comparisons). One L at a time, so
    memory stays that of one L's datasets.
    """
    from ..train import train_ensemble

    prepare_torch(threads, gpu_token, device)
    by_L: dict[int, list[int]] = {}
    for i, run in enumerate(runs):
        by_L.setdefault(int(run["L"]), []).append(i)
    metas = [None] * len(runs)
    for L, idxs in by_L.items():
        data = {
            s: sample_prompts("subspace", n_train + n_test, s, n=n, L=L, **case_params)
            for s in dict.fromkeys(int(runs[i]["data_seed"]) for i in idxs)
        }
        fresh_seed = int(fresh_seeds[L])
        fresh = (
            sample_prompts("subspace", fresh_prompts, fresh_seed, n=n, L=L, **case_params) if fresh_prompts else None
        )
        members = []
        for i in idxs:
            run = runs[i]
            batch = data[int(run["data_seed"])]
            label = f"context_sweep L={L} model={run['model']} seed={run['seed']}"
            member = split_member(
                batch,
                n_train,
                run["model"],
                epochs,
                train_settings,
                train_seed=run["train_seed"],
                device=device,
                threads=threads,
                label=label,
            )
            members.append(member)
        for i, member, res in zip(idxs, members, train_ensemble(members), strict=True):
            run, model = runs[i], runs[i]["model"]
            fresh_mse, fresh_se = float("nan"), float("nan")
            if fresh is not None:
                per_prompt = model_mse(model, fresh.X, fresh.x_query, fresh.x_target, res.W_KQ, res.W_PV)
                fresh_mse, fresh_se = mean_se(per_prompt)
            arrays, meta = run_record(
                res,
                member.cfg,
                {
                    "study": "context_sweep",
                    "case": "subspace",
                    "model": model,
                    "L": int(L),
                    "seed": int(run["seed"]),
                    "train_seed": int(run["train_seed"]),
                    "data_seed": int(run["data_seed"]),
                    "epochs": int(epochs),
                    "n_train": int(n_train),
                    "n_test": int(n_test),
                    "prompt_params": data[int(run["data_seed"])].params,
                    "fresh_prompts": int(fresh_prompts),
                    "fresh_seed": fresh_seed,
                    "fresh_mse": fresh_mse,
                    "fresh_mse_se": fresh_se,
                },
            )
            save_run(outs[i], arrays, meta)
            log.info(
                "%s: %d epochs on %s (ensemble of %d); final train %.5f test %.5f fresh %.5f alpha*beta %.4f",
                member.cfg.label,
                epochs,
                res.device,
                res.ensemble_size,
                res.train_mse[-1],
                res.test_mse[-1],
                fresh_mse,
                res.alpha[-1] * res.beta[-1],
            )
            metas[i] = meta
    return metas


def context_sweep_theory(L_values, n: int, d: int, sigma0_2: float, sigma_z2: float):
    """Closed forms along L (case 1): γ*(L), the finite-L MSE at γ*(L), the Bayes and zero-predictor MSEs."""
    import pandas as pd

    from ..bayes import (
        bayes_mse_subspace,
        linear_attention_finite_L_mse,
        linear_attention_gamma_star,
        zero_predictor_mse,
    )

    rows = [
        dict(
            L=int(L),
            n=n,
            d=d,
            sigma0_2=sigma0_2,
            sigma_z2=sigma_z2,
            gamma_star=linear_attention_gamma_star(L, d, sigma0_2, sigma_z2),
            finite_L_mse=linear_attention_finite_L_mse(L, n, d, sigma0_2, sigma_z2),
            bayes_mse=bayes_mse_subspace(n, d, sigma0_2, sigma_z2),
            zero_mse=zero_predictor_mse("subspace", n, d=d, sigma0_2=sigma0_2),
        )
        for L in L_values
    ]
    return pd.DataFrame(rows, columns=list(CONTEXT_THEORY_COLUMNS)).astype(CONTEXT_THEORY_COLUMNS)


def gather_context_sweep(run_paths: list[str], out_table: str, out_theory: str) -> None:
    """Fig. 4a runs -> context_sweep.parquet (one row per model, L, seed) and the theory curve along L."""
    import pandas as pd

    rows, params = [], None
    for path in sorted(run_paths):
        arrays, meta = load_run(path)
        a, b = float(arrays["alpha"][-1]), float(arrays["beta"][-1])
        rows.append(
            dict(
                model=meta["model"],
                L=meta["L"],
                seed=meta["seed"],
                epochs=meta["epochs"],
                train_mse=float(arrays["train_mse"][-1]),
                test_mse=float(arrays["test_mse"][-1]),
                min_test_mse=float(np.min(arrays["test_mse"])),
                fresh_mse=meta["fresh_mse"],
                fresh_mse_se=meta["fresh_mse_se"],
                alpha=a,
                beta=b,
                alpha_beta=a * b,
                dist_KQ=meta["dist_KQ"],
                dist_PV=meta["dist_PV"],
            )
        )
        p = meta["prompt_params"]
        p = (int(p["n"]), int(p["d"]), float(p["sigma0_2"]), float(p["sigma_z2"]))
        if params is not None and p != params:
            raise ValueError(f"{path}: prompt parameters {p} differ from the other runs' {params}")
        params = p
    if not rows:
        raise ValueError("gather_context_sweep: no runs given")
    df = pd.DataFrame(rows, columns=list(CONTEXT_SWEEP_COLUMNS)).astype(CONTEXT_SWEEP_COLUMNS)
    df = df.sort_values(["model", "L", "seed"], ignore_index=True)
    write_table(df, out_table)
    Ls = df["L"].to_numpy()
    n, d, s0, sz = params
    write_table(context_sweep_theory(range(int(Ls.min()), int(Ls.max()) + 1), n, d, s0, sz), out_theory)
    log.info("context sweep: %d runs, L = %s", len(df), sorted(set(Ls.tolist())))
