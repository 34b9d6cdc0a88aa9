"""Figure 4b (dim_shift): a model trained at one task setting, evaluated with the subspace dimension d (sphere
dimension d, number of centres p) shifted at inference time, for several context lengths L.

subspace: linear attention trained here (d = 8, L = 500, constant lr, as the authors did); sphere, gmm: the
Figure 3 softmax runs are reused. Each trained model and its own initial weights ("untrained") are evaluated
on fresh prompts. Every MSE is per component, ‖x̂ − x‖²/n, a mean over prompts, with its standard error.
"""

from __future__ import annotations

import logging

import numpy as np

from ..io import load_run, write_json
from ..tasks import CASE_PARAMS, derive_seed, sample_prompts
from .common import initial_weights, mean_se, model_mse

log = logging.getLogger("icdenoise")

#: The task parameter each case shifts at inference time, and the model each case evaluates.
SHIFT_PARAM = {"subspace": "d", "sphere": "d", "gmm": "p"}


SHIFT_MODEL = {"subspace": "linear", "sphere": "softmax", "gmm": "softmax"}


DIM_SHIFT_COLUMNS = {
    "case": "string",
    "model": "string",
    "param": "string",
    "n": "int64",
    "train_value": "int64",
    "eval_value": "int64",
    "train_L": "int64",
    "L": "int64",
    "model_state": "string",
    "seed": "int64",
    "num_prompts": "int64",
    "mse": "float64",
    "mse_se": "float64",
    "alpha": "float64",
    "beta": "float64",
}


DIM_SHIFT_ORACLE_COLUMNS = {
    "case": "string",
    "param": "string",
    "eval_value": "int64",
    "estimator": "string",
    "source": "string",
    "num_prompts": "int64",
    "mse": "float64",
    "mse_se": "float64",
}


DIM_SHIFT_THEORY_COLUMNS = {
    "case": "string",
    "param": "string",
    "eval_value": "int64",
    "L": "int64",
    "estimator": "string",
    "gamma": "float64",
    "mse": "float64",
}


def wanted_runs(config) -> list:
    """Figure 4b's trained models: linear attention on the subspace case at ``dim_shift.cases.subspace.L``, one run
    per ``dim_shift.seeds`` seed, each on its own dataset, with the study's lr schedule (constant, as the authors).
    Sphere and gmm reuse the Figure 3 softmax runs (no training here)."""
    from ..runs import RunSpec, case_settings

    own = config["dim_shift"]["cases"]["subspace"]
    settings = case_settings(config, "subspace", L=int(own["L"]))
    settings["train"] = {**settings["train"], "lr_milestones": own["lr_milestones"]}
    return [RunSpec("dim_shift", "subspace", "linear", int(s), settings) for s in config["dim_shift"]["seeds"]]


def shifted_params(case: str, base: dict, value: int) -> dict:
    """The sampler parameters of ``case`` from the training ones ``base``, with the shifted one set to ``value``."""
    params = {k: base[k] for k in CASE_PARAMS[case]}
    params[SHIFT_PARAM[case]] = int(value)
    return params


def _set_errors(X, x_query, x_target, sets: list[tuple[str, tuple]]) -> list[np.ndarray]:
    """Per-prompt MSE per component of each (model, (W_KQ, W_PV)) on the same prompts, float32 like training.

    Softmax weight sets go through one batched pass (:func:`icdenoise.energy.attention_iterate_many`,
    one step with g = 1 is the attention layer), which reads each prompt's context once for all of them.
    """
    import torch

    from ..energy import attention_iterate_many

    out: list[np.ndarray | None] = [None] * len(sets)
    soft = [i for i, (model, _) in enumerate(sets) if model == "softmax"]
    for i, (model, (W_KQ, W_PV)) in enumerate(sets):
        if model != "softmax":
            out[i] = model_mse(model, X, x_query, x_target, W_KQ, W_PV)
    if soft:
        Wk = torch.stack([torch.as_tensor(np.asarray(sets[i][1][0], dtype=np.float32)) for i in soft])
        Wv = torch.stack([torch.as_tensor(np.asarray(sets[i][1][1], dtype=np.float32)) for i in soft])
        Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        qt = torch.from_numpy(np.ascontiguousarray(x_query, dtype=np.float32))
        pred = attention_iterate_many(Xt, qt, Wk, Wv, torch.ones(len(soft)), [1])[0].double().numpy()  # (B, T, n)
        diff = pred - np.asarray(x_target, dtype=np.float64)[:, None, :]
        err = np.einsum("btn,btn->tb", diff, diff) / diff.shape[-1]
        for j, i in enumerate(soft):
            out[i] = err[j]
    return out


def evaluate_dim_shift(
    run_paths: list[str],
    out: str,
    *,
    case: str,
    eval_values: list[int],
    L_eval: list[int],
    eval_prompts: int,
    eval_seed: int,
    threads: int = 1,
) -> list[dict]:
    """Evaluate each trained run of ``case`` and its initial weights on fresh prompts with the shifted
    parameter and L.

    For each value v of the shifted parameter, ``eval_prompts`` prompts are sampled once with max(L_eval)
    context tokens (seed derived from ``eval_seed`` and v) and every run (seed), trained and untrained, is
    evaluated on the same prompts (paired comparisons); a smaller L uses the first L context tokens of the
    same prompts (tokens are i.i.d. given the task, so each L still sees fresh, exchangeable context).
    Writes the rows (columns of DIM_SHIFT_COLUMNS) as JSON; gather_dim_shift makes the table.
    """
    import torch

    torch.set_num_threads(max(1, int(threads)))
    runs = []
    for path in run_paths:
        arrays, meta = load_run(path)
        if meta["case"] != case:
            raise ValueError(f"{path}: a run of case {meta['case']!r}, expected {case!r}")
        runs.append((arrays, meta))
    param = SHIFT_PARAM[case]
    L_max = max(int(x) for x in L_eval)
    rows = []
    for value in eval_values:
        base = runs[0][1]["prompt_params"]
        n = int(base["n"])
        params = shifted_params(case, base, value)
        batch = sample_prompts(case, eval_prompts, derive_seed(eval_seed, param, int(value)), n=n, L=L_max, **params)
        # every (run, state) weight set: evaluated together on each L (softmax: one batched pass)
        sets = [
            (arrays, meta, state, weights)
            for arrays, meta in runs
            for state, weights in (
                ("trained", (arrays["W_KQ"], arrays["W_PV"])),
                ("untrained", initial_weights(n, meta["train_seed"])),
            )
        ]
        for L in sorted(int(x) for x in L_eval):
            X = batch.X[:, :L]
            per_prompt = _set_errors(X, batch.x_query, batch.x_target, [(m["model"], w) for _, m, _, w in sets])
            for (_, meta, state, (W_KQ, W_PV)), err in zip(sets, per_prompt, strict=True):
                base, model = meta["prompt_params"], meta["model"]
                mse, se = mean_se(err)
                rows.append(
                    dict(
                        case=case,
                        model=model,
                        param=param,
                        n=n,
                        train_value=int(base[param]),
                        eval_value=int(value),
                        train_L=int(base["L"]),
                        L=L,
                        model_state=state,
                        seed=int(meta["seed"]),
                        num_prompts=int(eval_prompts),
                        mse=mse,
                        mse_se=se,
                        alpha=float(np.mean(np.diag(W_PV))),
                        beta=float(np.mean(np.diag(W_KQ))),
                    )
                )
        log.info(
            "%s %s=%d: trained MSE per component at L=%s, per seed: %s",
            case,
            param,
            value,
            sorted(L_eval),
            [round(r["mse"], 5) for r in rows if r["eval_value"] == value and r["model_state"] == "trained"],
        )
    write_json({"rows": rows, "runs": [str(p) for p in run_paths]}, out)
    return rows


def dim_shift_oracles(
    out: str, *, case: str, base_params: dict, n: int, eval_values: list[int], num_prompts: int, seed: int
) -> None:
    """Oracle MSEs (zero predictor, Bayes, ...) at every shifted setting: closed form where the paper gives
    one (subspace), else Monte Carlo on ``num_prompts`` fresh prompts (oracles ignore the context)."""
    import pandas as pd

    from .. import bayes
    from ..io import write_table

    param = SHIFT_PARAM[case]
    rows = []
    for value in eval_values:
        params = shifted_params(case, base_params, value)
        if case == "subspace":
            d, s0, sz = params["d"], params["sigma0_2"], params["sigma_z2"]
            closed = {
                "zero": bayes.zero_predictor_mse(case, n, **params),
                "bayes": bayes.bayes_mse_subspace(n, d, s0, sz),
                "projection": d / n * sz,
            }
            for est, mse in closed.items():
                rows.append(
                    dict(
                        case=case,
                        param=param,
                        eval_value=int(value),
                        estimator=est,
                        source="theory",
                        num_prompts=0,
                        mse=float(mse),
                        mse_se=0.0,
                    )
                )
            continue
        mc = bayes.bayes_mse_monte_carlo(
            case, num_prompts, derive_seed(seed, param, int(value)), n, return_se=True, **params
        )
        for est in mc["mean"]:
            rows.append(
                dict(
                    case=case,
                    param=param,
                    eval_value=int(value),
                    estimator=est,
                    source="monte_carlo",
                    num_prompts=int(num_prompts),
                    mse=mc["mean"][est],
                    mse_se=mc["se"][est],
                )
            )
        rows.append(
            dict(
                case=case,
                param=param,
                eval_value=int(value),
                estimator="zero",
                source="theory",
                num_prompts=0,
                mse=bayes.zero_predictor_mse(case, n, **params),
                mse_se=0.0,
            )
        )
    df = pd.DataFrame(rows, columns=list(DIM_SHIFT_ORACLE_COLUMNS)).astype(DIM_SHIFT_ORACLE_COLUMNS)
    write_table(df, out)
    log.info("oracles of %s at %s = %s:\n%s", case, param, list(eval_values), df.to_string(index=False))


def dim_shift_theory(dim_shift, n: int, sigma0_2: float, sigma_z2: float):
    """Case-1 finite-L theory at each shifted (d, L): x̂ = γ S x̃ with γ = the trained models' mean αβ
    ("scaled_identity_trained") and with the best γ*(L, d) for that setting ("scaled_identity_optimal")."""
    import pandas as pd

    from ..bayes import linear_attention_finite_L_mse, linear_attention_gamma_star

    sub = dim_shift[(dim_shift["case"] == "subspace") & (dim_shift["model_state"] == "trained")]
    rows = []
    if len(sub):
        per_seed = sub.groupby("seed")[["alpha", "beta"]].first()
        gamma_trained = float((per_seed["alpha"] * per_seed["beta"]).mean())
        for (d, L), _ in sub.groupby(["eval_value", "L"]):
            d, L = int(d), int(L)
            for est, g in (
                ("scaled_identity_trained", gamma_trained),
                ("scaled_identity_optimal", linear_attention_gamma_star(L, d, sigma0_2, sigma_z2)),
            ):
                rows.append(
                    dict(
                        case="subspace",
                        param="d",
                        eval_value=d,
                        L=L,
                        estimator=est,
                        gamma=g,
                        mse=linear_attention_finite_L_mse(L, n, d, sigma0_2, sigma_z2, gamma=g),
                    )
                )
    return pd.DataFrame(rows, columns=list(DIM_SHIFT_THEORY_COLUMNS)).astype(DIM_SHIFT_THEORY_COLUMNS)


def gather_dim_shift(
    eval_paths: list[str],
    oracle_paths: list[str],
    out_table: str,
    out_oracles: str,
    out_theory: str,
    *,
    n: int,
    sigma0_2: float,
    sigma_z2: float,
) -> None:
    """Fig. 4b evaluations (JSON rows) and oracles -> dim_shift, dim_shift_oracles, dim_shift_theory tables.

    ``n, sigma0_2, sigma_z2`` are the subspace case's (for the finite-L theory rows)."""
    import json

    import pandas as pd

    from ..io import InputFileError, read_table, write_table

    rows = []
    for path in sorted(eval_paths):
        try:
            with open(path) as fh:
                rows += json.load(fh)["rows"]
        except (OSError, ValueError, KeyError) as exc:
            raise InputFileError(f"{path}: not a dim-shift evaluation file ({type(exc).__name__}: {exc})") from None
    df = pd.DataFrame(rows, columns=list(DIM_SHIFT_COLUMNS)).astype(DIM_SHIFT_COLUMNS)
    df = df.sort_values(["case", "seed", "eval_value", "L", "model_state"], ignore_index=True)
    write_table(df, out_table)
    oracles = (
        pd.concat([read_table(p) for p in sorted(oracle_paths)], ignore_index=True)
        if oracle_paths
        else pd.DataFrame(columns=list(DIM_SHIFT_ORACLE_COLUMNS))
    )
    write_table(oracles.astype(DIM_SHIFT_ORACLE_COLUMNS), out_oracles)
    write_table(dim_shift_theory(df, n, sigma0_2, sigma_z2), out_theory)
    log.info("dim shift: %d rows over cases %s", len(df), sorted(set(df["case"])))
