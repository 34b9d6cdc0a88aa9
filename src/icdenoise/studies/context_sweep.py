"""Figure 4a (context_sweep): linear and softmax attention trained on the subspace case at each context length L.

For each (L, seed) a fresh subspace dataset (n_train + n_test prompts with L context tokens) is sampled and
every model is trained on it exactly as in Figure 3; the final train/test MSE, the MSE on fresh prompts (an
estimate of the expected MSE with 10x less noise than the 200 test prompts) and the final α, β are kept.
Every MSE is per component, ‖x̂ − x‖²/n, a mean over prompts, with its standard error.
"""

from __future__ import annotations

import logging

import numpy as np

from ..io import load_run, write_table
from ..jobs import prepare_torch
from ..tasks import sample_prompts
from .common import mean_se, model_mse

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


def wanted_runs(config, *, model: str | None = None) -> list:
    """Figure 4a's runs: every (model, L, seed) of ``context_sweep`` on the subspace case, L outer, seeds inner
    (``model`` narrows to one model); each trained as in Figure 3 on its own dataset with L context tokens."""
    from ..runs import RunSpec, case_settings

    cs = config["context_sweep"]
    models = [model] if model is not None else list(cs["models"])
    return [
        RunSpec("context_sweep", "subspace", m, int(s), case_settings(config, "subspace", L=int(L)), tags={"L": int(L)})
        for m in models
        for L in cs["L"]
        for s in cs["seeds"]
    ]


def train_context_sweep(
    outs: list[str],
    *,
    runs: list[dict],
    fresh_prompts: int,
    fresh_seeds: dict,
    device: str = "auto",
    threads: int = 1,
    gpu_token: int = 0,
):
    """Fig. 4a training job: the planned ``runs`` -> ``outs``, the seeds of each L as one batched ensemble.

    After training at an L, every model is evaluated on ``fresh_prompts`` fresh prompts at that L (seed
    ``fresh_seeds[L]``; the same prompts for every model and seed: paired comparisons). One L at a time, so memory
    stays that of one L's datasets.
    """
    from ..runs import runs_from_params, train_runs

    prepare_torch(threads, gpu_token, device)

    def evaluate(records):
        s = records[0].run.settings
        L, fresh_seed = int(s["L"]), int(fresh_seeds[int(s["L"])])
        fresh = (
            sample_prompts("subspace", fresh_prompts, fresh_seed, n=int(s["n"]), L=L, **s["case_params"])
            if fresh_prompts
            else None
        )
        for rec in records:
            fresh_mse, fresh_se = float("nan"), float("nan")
            if fresh is not None:
                res = rec.result
                per_prompt = model_mse(rec.run.model, fresh.X, fresh.x_query, fresh.x_target, res.W_KQ, res.W_PV)
                fresh_mse, fresh_se = mean_se(per_prompt)
            rec.meta.update(
                fresh_prompts=int(fresh_prompts), fresh_seed=fresh_seed, fresh_mse=fresh_mse, fresh_mse_se=fresh_se
            )
            log.info("%s: fresh MSE %.5f", rec.run.label, fresh_mse)

    return train_runs(
        runs_from_params(runs), outs, device=device, threads=threads, chunk=lambda r: r.tags["L"], evaluate=evaluate
    )


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
