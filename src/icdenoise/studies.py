"""Figure 4 studies: the context-length sweep (Fig. 4a) and the inference-time shift of the task (Fig. 4b).

What a rule script of ``workflow/rules/context_sweep.smk`` or ``dim_shift.smk`` calls, and what the
tests call without Snakemake. Module-level imports are numpy and the package's numpy-only modules,
so every function can run in the env of its rule:

* training and model evaluation (``train_context_sweep``, ``train_dim_shift``, ``evaluate_dim_shift``)
  import torch lazily and write ``.npz`` runs / JSON rows (the train env has no pandas);
* oracles and gathering (``dim_shift_oracles``, ``gather_*``) import scipy/pandas lazily (analysis env).

Every MSE is **per component**, ‖x̂ − x‖²/n, a mean over prompts, with its standard error.

Fig. 4a: for each (L, seed) a fresh subspace dataset (n_train + n_test prompts with L context tokens)
is sampled and every model is trained on it exactly as in Fig. 3; the final train/test MSE, the MSE on
fresh prompts (an estimate of the expected MSE with 10x less noise than the 200 test prompts) and the
final α, β are kept. Fig. 4b: a model trained at one task setting (subspace: d = 8, L = 500, constant
lr; sphere, gmm: the Fig. 3 softmax runs) and its own initial weights ("untrained") are evaluated on
fresh prompts whose subspace dimension d (sphere dimension d, number of centres p) differs from the
training one, for several context lengths L.
"""

from __future__ import annotations

import logging

import numpy as np

from .io import load_run, save_run, write_json
from .pipeline import prepare_torch, versions
from .tasks import CASE_PARAMS, derive_seed, sample_prompts

log = logging.getLogger("icdenoise")

#: The task parameter each case shifts at inference time, and the model each case evaluates.
SHIFT_PARAM = {"subspace": "d", "sphere": "d", "gmm": "p"}
SHIFT_MODEL = {"subspace": "linear", "sphere": "softmax", "gmm": "softmax"}

#: Column dtypes of the tables written here (explicit, so empty or odd inputs cannot change them).
CONTEXT_SWEEP_COLUMNS = {
    "model": "string", "L": "int64", "seed": "int64", "epochs": "int64",
    "train_mse": "float64", "test_mse": "float64", "min_test_mse": "float64",
    "fresh_mse": "float64", "fresh_mse_se": "float64",
    "alpha": "float64", "beta": "float64", "alpha_beta": "float64", "dist_KQ": "float64", "dist_PV": "float64",
}
CONTEXT_THEORY_COLUMNS = {
    "L": "int64", "n": "int64", "d": "int64", "sigma0_2": "float64", "sigma_z2": "float64",
    "gamma_star": "float64", "finite_L_mse": "float64", "bayes_mse": "float64", "zero_mse": "float64",
}
DIM_SHIFT_COLUMNS = {
    "case": "string", "model": "string", "param": "string", "n": "int64", "train_value": "int64", "eval_value": "int64",
    "train_L": "int64", "L": "int64", "model_state": "string", "seed": "int64", "num_prompts": "int64",
    "mse": "float64", "mse_se": "float64", "alpha": "float64", "beta": "float64",
}
DIM_SHIFT_ORACLE_COLUMNS = {
    "case": "string", "param": "string", "eval_value": "int64", "estimator": "string", "source": "string",
    "num_prompts": "int64", "mse": "float64", "mse_se": "float64",
}
DIM_SHIFT_THEORY_COLUMNS = {
    "case": "string", "param": "string", "eval_value": "int64", "L": "int64", "estimator": "string",
    "gamma": "float64", "mse": "float64",
}


def _mean_se(per_prompt: np.ndarray) -> tuple[float, float]:
    v = np.asarray(per_prompt, dtype=np.float64)
    se = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else float("nan")
    return float(v.mean()), se


# --------------------------------------------------------------------------- models (torch, lazily)


def initial_weights(n: int, train_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The initial (W_KQ, W_PV) of a run trained by icdenoise.train.train with ``seed=train_seed``.

    train() draws them from ``torch.Generator().manual_seed(seed)`` before anything else, so this
    reproduces them exactly: the "untrained" model of Fig. 4b is the trained model's own start.
    """
    import torch

    from .models import init_weights

    gen = torch.Generator(device="cpu").manual_seed(int(train_seed))
    W_KQ, W_PV = init_weights(n, gen)
    return W_KQ.numpy(), W_PV.numpy()


def model_mse(model: str, X, x_query, x_target, W_KQ, W_PV, chunk: int = 250) -> np.ndarray:
    """Per-prompt MSE per component of attention ``model`` with weights (W_KQ, W_PV), float32 like training."""
    import torch

    from .models import attention

    Wk = torch.as_tensor(np.asarray(W_KQ, dtype=np.float32))
    Wv = torch.as_tensor(np.asarray(W_PV, dtype=np.float32))
    out = []
    with torch.no_grad():
        for s in range(0, X.shape[0], chunk):
            Xc = torch.from_numpy(np.ascontiguousarray(X[s : s + chunk], dtype=np.float32))
            qc = torch.from_numpy(np.ascontiguousarray(x_query[s : s + chunk], dtype=np.float32))
            pred = attention(model, Xc, qc, Wk, Wv).double().numpy()
            diff = pred - np.asarray(x_target[s : s + chunk], dtype=np.float64)
            out.append(np.einsum("bi,bi->b", diff, diff) / diff.shape[-1])
    return np.concatenate(out)


def _train_one(
    *, case, model, L, n, n_train, n_test, case_params, epochs, train_settings, data_seed, train_seed,
    device, threads, label,
):
    """Sample n_train + n_test prompts of ``case`` at context length L from ``data_seed`` and train ``model``."""
    from .train import TrainConfig, train

    batch = sample_prompts(case, n_train + n_test, data_seed, n=n, L=L, **case_params)
    cfg = TrainConfig.from_settings(model, epochs, train_settings, seed=int(train_seed), device=device,
                                    threads=threads, label=label)
    res = train(batch.subset(slice(0, n_train)), batch.subset(slice(n_train, None)), cfg)
    return batch, cfg, res


def _run_record(res, cfg, meta: dict) -> tuple[dict, dict]:
    arrays = res.arrays()
    meta = {
        **meta,
        "settings": {k: v for k, v in cfg.__dict__.items() if k != "progress"},
        "device": res.device,
        "seconds": res.seconds,
        "versions": versions(),
        **{k: float(v) for k, v in res.info.items()},
    }
    return arrays, meta


# --------------------------------------------------------------------------- Fig. 4a: context length


def train_context_sweep(
    outs: dict[str, str],
    *,
    L: int,
    seed: int,
    n: int,
    n_train: int,
    n_test: int,
    case_params: dict,
    epochs: int,
    train_settings: dict,
    data_seed: int,
    train_seeds: dict[str, int],
    fresh_prompts: int,
    fresh_seed: int,
    device: str = "auto",
    threads: int = 1,
    gpu_token: int = 0,
) -> dict[str, dict]:
    """One (L, seed) job of Fig. 4a: sample a subspace dataset at context length L, train every model of
    ``outs`` (model -> run file) on it, and evaluate each on ``fresh_prompts`` fresh prompts at the same L.

    All models see the same dataset and the same fresh prompts (paired comparison). Returns the metas.
    """
    prepare_torch(threads, gpu_token, device)
    fresh = sample_prompts("subspace", fresh_prompts, fresh_seed, n=n, L=L, **case_params) if fresh_prompts else None
    metas = {}
    for model, out in outs.items():
        label = f"context_sweep L={L} model={model} seed={seed}"
        batch, cfg, res = _train_one(
            case="subspace", model=model, L=L, n=n, n_train=n_train, n_test=n_test, case_params=case_params,
            epochs=epochs, train_settings=train_settings, data_seed=data_seed, train_seed=train_seeds[model],
            device=device, threads=threads, label=label,
        )
        fresh_mse, fresh_se = float("nan"), float("nan")
        if fresh is not None:
            fresh_mse, fresh_se = _mean_se(model_mse(model, fresh.X, fresh.x_query, fresh.x_target, res.W_KQ, res.W_PV))
        arrays, meta = _run_record(res, cfg, {
            "study": "context_sweep", "case": "subspace", "model": model, "L": int(L), "seed": int(seed),
            "train_seed": int(train_seeds[model]), "data_seed": int(data_seed), "epochs": int(epochs),
            "n_train": int(n_train), "n_test": int(n_test), "prompt_params": batch.params,
            "fresh_prompts": int(fresh_prompts), "fresh_seed": int(fresh_seed),
            "fresh_mse": fresh_mse, "fresh_mse_se": fresh_se,
        })
        save_run(out, arrays, meta)
        log.info("%s: %d epochs in %.2f s on %s; final train %.5f test %.5f fresh %.5f alpha*beta %.4f",
                 label, epochs, res.seconds, res.device, res.train_mse[-1], res.test_mse[-1], fresh_mse,
                 res.alpha[-1] * res.beta[-1])
        metas[model] = meta
    return metas


def context_sweep_theory(L_values, n: int, d: int, sigma0_2: float, sigma_z2: float):
    """Closed forms along L (case 1): γ*(L), the finite-L MSE at γ*(L), the Bayes and zero-predictor MSEs."""
    import pandas as pd

    from .bayes import bayes_mse_subspace, linear_attention_finite_L_mse, linear_attention_gamma_star, zero_predictor_mse

    rows = [
        dict(L=int(L), n=n, d=d, sigma0_2=sigma0_2, sigma_z2=sigma_z2,
             gamma_star=linear_attention_gamma_star(L, d, sigma0_2, sigma_z2),
             finite_L_mse=linear_attention_finite_L_mse(L, n, d, sigma0_2, sigma_z2),
             bayes_mse=bayes_mse_subspace(n, d, sigma0_2, sigma_z2),
             zero_mse=zero_predictor_mse("subspace", n, d=d, sigma0_2=sigma0_2))
        for L in L_values
    ]
    return pd.DataFrame(rows, columns=list(CONTEXT_THEORY_COLUMNS)).astype(CONTEXT_THEORY_COLUMNS)


def gather_context_sweep(run_paths: list[str], out_table: str, out_theory: str) -> None:
    """Fig. 4a runs -> context_sweep.parquet (one row per model, L, seed) and the theory curve along L."""
    import pandas as pd

    from .io import write_table

    rows, params = [], None
    for path in sorted(run_paths):
        arrays, meta = load_run(path)
        a, b = float(arrays["alpha"][-1]), float(arrays["beta"][-1])
        rows.append(dict(
            model=meta["model"], L=meta["L"], seed=meta["seed"], epochs=meta["epochs"],
            train_mse=float(arrays["train_mse"][-1]), test_mse=float(arrays["test_mse"][-1]),
            min_test_mse=float(np.min(arrays["test_mse"])),
            fresh_mse=meta["fresh_mse"], fresh_mse_se=meta["fresh_mse_se"],
            alpha=a, beta=b, alpha_beta=a * b, dist_KQ=meta["dist_KQ"], dist_PV=meta["dist_PV"],
        ))
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


# --------------------------------------------------------------------------- Fig. 4b: shifted task


def train_dim_shift(
    out: str,
    *,
    seed: int,
    L: int,
    n: int,
    n_train: int,
    n_test: int,
    case_params: dict,
    epochs: int,
    train_settings: dict,
    data_seed: int,
    train_seed: int,
    device: str = "auto",
    threads: int = 1,
    gpu_token: int = 0,
) -> dict:
    """Fig. 4b training run: linear attention on the subspace case (its own dataset, lr schedule as given)."""
    prepare_torch(threads, gpu_token, device)
    label = f"dim_shift subspace L={L} model=linear seed={seed}"
    batch, cfg, res = _train_one(
        case="subspace", model="linear", L=L, n=n, n_train=n_train, n_test=n_test, case_params=case_params,
        epochs=epochs, train_settings=train_settings, data_seed=data_seed, train_seed=train_seed,
        device=device, threads=threads, label=label,
    )
    arrays, meta = _run_record(res, cfg, {
        "study": "dim_shift", "case": "subspace", "model": "linear", "L": int(L), "seed": int(seed),
        "train_seed": int(train_seed), "data_seed": int(data_seed), "epochs": int(epochs),
        "n_train": int(n_train), "n_test": int(n_test), "prompt_params": batch.params,
    })
    save_run(out, arrays, meta)
    log.info("%s: %d epochs in %.2f s on %s; final train %.5f test %.5f alpha %.4f beta %.4f",
             label, epochs, res.seconds, res.device, res.train_mse[-1], res.test_mse[-1], res.alpha[-1], res.beta[-1])
    return meta


def shifted_params(case: str, base: dict, value: int) -> dict:
    """The sampler parameters of ``case`` from the training ones ``base``, with the shifted one set to ``value``."""
    params = {k: base[k] for k in CASE_PARAMS[case]}
    params[SHIFT_PARAM[case]] = int(value)
    return params


def evaluate_dim_shift(
    run_path: str,
    out: str,
    *,
    case: str,
    seed: int,
    eval_values: list[int],
    L_eval: list[int],
    eval_prompts: int,
    eval_seed: int,
    threads: int = 1,
) -> list[dict]:
    """Evaluate a trained run and its initial weights on fresh prompts with the shifted parameter and L.

    For each value v of the shifted parameter, ``eval_prompts`` prompts are sampled once with
    max(L_eval) context tokens (seed derived from ``eval_seed`` and v); a smaller L uses the first L
    context tokens of the same prompts (tokens are i.i.d. given the task, so each L still sees
    fresh, exchangeable context), and the trained and the untrained model see the same prompts.
    Writes the rows (columns of DIM_SHIFT_COLUMNS) as JSON; gather_dim_shift makes the table.
    """
    import torch

    torch.set_num_threads(max(1, int(threads)))
    arrays, meta = load_run(run_path)
    model = meta["model"]
    base = meta["prompt_params"]
    n, train_L = int(base["n"]), int(base["L"])
    param = SHIFT_PARAM[case]
    if meta["case"] != case:
        raise ValueError(f"{run_path}: a run of case {meta['case']!r}, expected {case!r}")
    states = {
        "trained": (arrays["W_KQ"], arrays["W_PV"]),
        "untrained": initial_weights(n, meta["train_seed"]),
    }
    L_max = max(int(x) for x in L_eval)
    rows = []
    for value in eval_values:
        params = shifted_params(case, base, value)
        batch = sample_prompts(case, eval_prompts, derive_seed(eval_seed, param, int(value)), n=n, L=L_max, **params)
        for L in sorted(int(x) for x in L_eval):
            X = batch.X[:, :L]
            for state, (W_KQ, W_PV) in states.items():
                mse, se = _mean_se(model_mse(model, X, batch.x_query, batch.x_target, W_KQ, W_PV))
                rows.append(dict(
                    case=case, model=model, param=param, n=n, train_value=int(base[param]), eval_value=int(value),
                    train_L=train_L, L=L, model_state=state, seed=int(seed), num_prompts=int(eval_prompts),
                    mse=mse, mse_se=se, alpha=float(np.mean(np.diag(W_PV))), beta=float(np.mean(np.diag(W_KQ))),
                ))
        log.info("%s %s=%d: trained MSE per component at L=%s: %s", case, param, value, sorted(L_eval),
                 [round(r["mse"], 5) for r in rows if r["eval_value"] == value and r["model_state"] == "trained"])
    write_json({"rows": rows, "run": str(run_path)}, out)
    return rows


def dim_shift_oracles(
    out: str, *, case: str, base_params: dict, n: int, eval_values: list[int], num_prompts: int, seed: int
) -> None:
    """Oracle MSEs (zero predictor, Bayes, ...) at every shifted setting: closed form where the paper gives
    one (subspace), else Monte Carlo on ``num_prompts`` fresh prompts (oracles ignore the context)."""
    import pandas as pd

    from . import bayes
    from .io import write_table

    param = SHIFT_PARAM[case]
    rows = []
    for value in eval_values:
        params = shifted_params(case, base_params, value)
        if case == "subspace":
            d, s0, sz = params["d"], params["sigma0_2"], params["sigma_z2"]
            closed = {"zero": bayes.zero_predictor_mse(case, n, **params), "bayes": bayes.bayes_mse_subspace(n, d, s0, sz),
                      "projection": d / n * sz}
            for est, mse in closed.items():
                rows.append(dict(case=case, param=param, eval_value=int(value), estimator=est, source="theory",
                                 num_prompts=0, mse=float(mse), mse_se=0.0))
            continue
        mc = bayes.bayes_mse_monte_carlo(case, num_prompts, derive_seed(seed, param, int(value)), n,
                                         return_se=True, **params)
        for est in mc["mean"]:
            rows.append(dict(case=case, param=param, eval_value=int(value), estimator=est, source="monte_carlo",
                             num_prompts=int(num_prompts), mse=mc["mean"][est], mse_se=mc["se"][est]))
        rows.append(dict(case=case, param=param, eval_value=int(value), estimator="zero", source="theory",
                         num_prompts=0, mse=bayes.zero_predictor_mse(case, n, **params), mse_se=0.0))
    df = pd.DataFrame(rows, columns=list(DIM_SHIFT_ORACLE_COLUMNS)).astype(DIM_SHIFT_ORACLE_COLUMNS)
    write_table(df, out)
    log.info("oracles of %s at %s = %s:\n%s", case, param, list(eval_values), df.to_string(index=False))


def dim_shift_theory(dim_shift, n: int, sigma0_2: float, sigma_z2: float):
    """Case-1 finite-L theory at each shifted (d, L): x̂ = γ S x̃ with γ = the trained models' mean αβ
    ("scaled_identity_trained") and with the best γ*(L, d) for that setting ("scaled_identity_optimal")."""
    import pandas as pd

    from .bayes import linear_attention_finite_L_mse, linear_attention_gamma_star

    sub = dim_shift[(dim_shift["case"] == "subspace") & (dim_shift["model_state"] == "trained")]
    rows = []
    if len(sub):
        per_seed = sub.groupby("seed")[["alpha", "beta"]].first()
        gamma_trained = float((per_seed["alpha"] * per_seed["beta"]).mean())
        for (d, L), _ in sub.groupby(["eval_value", "L"]):
            d, L = int(d), int(L)
            for est, g in (("scaled_identity_trained", gamma_trained),
                           ("scaled_identity_optimal", linear_attention_gamma_star(L, d, sigma0_2, sigma_z2))):
                rows.append(dict(case="subspace", param="d", eval_value=d, L=L, estimator=est, gamma=g,
                                 mse=linear_attention_finite_L_mse(L, n, d, sigma0_2, sigma_z2, gamma=g)))
    return pd.DataFrame(rows, columns=list(DIM_SHIFT_THEORY_COLUMNS)).astype(DIM_SHIFT_THEORY_COLUMNS)


def gather_dim_shift(eval_paths: list[str], oracle_paths: list[str], out_table: str, out_oracles: str,
                     out_theory: str, *, n: int, sigma0_2: float, sigma_z2: float) -> None:
    """Fig. 4b evaluations (JSON rows) and oracles -> dim_shift, dim_shift_oracles, dim_shift_theory tables.

    ``n, sigma0_2, sigma_z2`` are the subspace case's (for the finite-L theory rows)."""
    import json

    import pandas as pd

    from .io import InputFileError, read_table, write_table

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
    oracles = pd.concat([read_table(p) for p in sorted(oracle_paths)], ignore_index=True) if oracle_paths else \
        pd.DataFrame(columns=list(DIM_SHIFT_ORACLE_COLUMNS))
    write_table(oracles.astype(DIM_SHIFT_ORACLE_COLUMNS), out_oracles)
    write_table(dim_shift_theory(df, n, sigma0_2, sigma_z2), out_theory)
    log.info("dim shift: %d rows over cases %s", len(df), sorted(set(df["case"])))
