"""One function per workflow step: what a rule script calls (and what tests call without Snakemake).

Each function reads its inputs, calls the science modules and writes its outputs atomically.
Rule scripts under ``workflow/scripts/`` only unpack ``snakemake.input/params`` into these calls.
"""

from __future__ import annotations

import contextlib
import logging
import platform
import sys
import traceback
from pathlib import Path

import numpy as np

from . import __version__
from .io import InputFileError, load_prompts, load_run, read_table, save_prompts, save_run, write_table
from .tasks import CASE_PARAMS, sample_prompts

log = logging.getLogger("icdenoise")


#: Third-party packages whose import by a job the env check (tests/test_envs.py) verifies.
TRACKED_PACKAGES = ("numpy", "scipy", "torch", "pandas", "pyarrow", "matplotlib", "tqdm", "yaml", "jsonschema")


def _record_imports(rule: str) -> None:
    """With ICDENOISE_RECORD_IMPORTS=dir, note which tracked packages this job imported (dir/rule.txt)."""
    import os

    where = os.environ.get("ICDENOISE_RECORD_IMPORTS")
    if not where or not rule:
        return
    used = sorted({m.split(".")[0] for m in sys.modules} & set(TRACKED_PACKAGES))
    Path(where).mkdir(parents=True, exist_ok=True)
    with open(Path(where) / f"{rule}.txt", "a") as fh:
        fh.write(" ".join(used) + "\n")


@contextlib.contextmanager
def job_logging(log_path: str | None, rule: str = ""):
    """Send this job's stdout, stderr and logging to ``log_path``; a failure's traceback lands there too."""
    try:
        with _job_logging(log_path):
            yield
    finally:
        _record_imports(rule)


def _known_failure(exc: BaseException) -> bool:
    """A failure whose message says it all (bad input file, diverged training, missing CUDA)."""
    if isinstance(exc, InputFileError):
        return True
    train = sys.modules.get("icdenoise.train")  # loaded only by jobs that train
    return train is not None and isinstance(exc, (train.TrainingDiverged, train.DeviceUnavailable))


@contextlib.contextmanager
def _job_logging(log_path: str | None):
    if not log_path:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        yield
        return
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    failure = None
    with open(log_path, "w", buffering=1) as fh:
        old = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = fh
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=fh, force=True)
        try:
            yield
        except BaseException as exc:
            fh.write("".join(traceback.format_exception(exc)))
            fh.write(f"ERROR: {type(exc).__name__}: {exc}\n")
            if not _known_failure(exc):
                raise
            failure = exc
        finally:
            sys.stdout, sys.stderr = old
    if failure is not None:  # the job's stderr gets the message alone; the log keeps the traceback
        print(f"ERROR: {type(failure).__name__}: {failure}\n(traceback in {log_path})", file=sys.stderr)
        raise SystemExit(1)


def case_params(case: str, case_cfg: dict) -> dict:
    """The sampler parameters of a case from its config block (drops e.g. ``epochs``)."""
    return {k: case_cfg[k] for k in CASE_PARAMS[case]}


# --------------------------------------------------------------------------- data


def sample_dataset(out: str, case: str, seed: int, n: int, L: int, num_prompts: int, params: dict) -> None:
    """Sample ``num_prompts`` prompts of ``case`` from ``seed`` and write them to ``out``."""
    batch = sample_prompts(case, num_prompts, seed, n=n, L=L, **params)
    batch.params["seed"] = int(seed)
    save_prompts(out, batch)
    log.info("sampled %d prompts of case %s (n=%d, L=%d, %s) with seed %d -> %s", num_prompts, case, n, L, params, seed, out)


# --------------------------------------------------------------------------- training


def train_run(
    data_path: str,
    out: str,
    *,
    case: str,
    model: str,
    seed: int,
    train_seed: int,
    n_train: int,
    epochs: int,
    train_settings: dict,
    device: str = "auto",
    threads: int = 1,
    gpu_token: int = 0,
) -> dict:
    """Train one (case, model, seed) run on the first ``n_train`` prompts, test on the rest; write ``out``."""
    from .train import TrainConfig, train

    prepare_torch(threads, gpu_token, device)
    batch = load_prompts(data_path)
    if n_train >= batch.num_prompts:
        raise ValueError(f"n_train={n_train} leaves no test prompts in {data_path} ({batch.num_prompts} prompts)")
    label = f"case={case} model={model} seed={seed}"
    cfg = TrainConfig.from_settings(model, epochs, train_settings, seed=train_seed, device=device, threads=threads,
                                    label=label)
    res = train(batch.subset(slice(0, n_train)), batch.subset(slice(n_train, None)), cfg)
    meta = {
        "case": case,
        "model": model,
        "seed": int(seed),
        "train_seed": int(train_seed),
        "data_seed": int(batch.params.get("seed", -1)),
        "epochs": int(epochs),
        "n_train": int(n_train),
        "n_test": int(batch.num_prompts - n_train),
        "settings": {k: v for k, v in cfg.__dict__.items() if k not in ("progress",)},
        "prompt_params": batch.params,
        "device": res.device,
        "seconds": res.seconds,
        "versions": versions(),
    }
    arrays = res.arrays()
    save_run(out, arrays, meta)
    log.info(
        "%s: %d epochs in %.2f s on %s; final train %.5f test %.5f alpha %.4f beta %.4f",
        label, epochs, res.seconds, res.device, res.train_mse[-1], res.test_mse[-1], res.alpha[-1], res.beta[-1],
    )
    return meta


def prepare_torch(threads: int, gpu_token: int, device: str) -> None:
    """Set torch's thread count from the rule's threads; say once in the log when training runs on the CPU."""
    import torch

    torch.set_num_threads(max(1, int(threads)))
    if device in ("auto", "cpu") and not torch.cuda.is_available():
        why = "this job holds a gpu resource token but " if gpu_token else ""
        log.info("%sCUDA is not available on this machine: training on CPU (%d thread(s))", why, threads)


def versions() -> dict:
    """Library versions for the run-metadata table (never stored inside result tables)."""
    import importlib.metadata as md

    out = {"python": platform.python_version(), "icdenoise": __version__}
    for pkg in ("numpy", "scipy", "torch", "pandas", "pyarrow"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[pkg] = md.version(pkg)
    return out


# --------------------------------------------------------------------------- oracle baselines


def oracle_predictions(case: str, x_query: np.ndarray, task: dict, params: dict) -> dict[str, np.ndarray]:
    """Every oracle estimator of a case applied to the queries: name -> x̂ (B, n)."""
    from . import bayes

    zero = np.zeros_like(x_query, dtype=np.float64)
    if case == "subspace":
        U = task["basis"]
        return {
            "zero": zero,
            "bayes": bayes.bayes_optimal_subspace(x_query, U, params["sigma0_2"], params["sigma_z2"]),
            "projection": bayes.projection_subspace(x_query, U),
        }
    if case == "sphere":
        V = task["basis"]
        return {
            "zero": zero,
            "bayes": bayes.bayes_optimal_sphere(x_query, V, params["R"], params["sigma_z2"]),
            "projection": bayes.projection_sphere(x_query, V, params["R"]),
        }
    if case == "gmm":
        mu, w = task["centres"], task["weights"]
        return {
            "zero": zero,
            "bayes": bayes.bayes_optimal_gmm(x_query, mu, w, params["sigma0_2"], params["sigma_z2"]),
            "bayes_sigma0_to_0": bayes.bayes_optimal_gmm_sigma0_to_0(x_query, mu, w, params["sigma_z2"]),
        }
    raise ValueError(f"unknown case {case!r}")


def theory_mse(case: str, n: int, params: dict) -> dict[str, float]:
    """Closed-form expected per-component MSEs where the paper gives them."""
    from . import bayes

    out = {"zero": bayes.zero_predictor_mse(case, n, **params)}
    if case == "subspace":
        d, s0, sz = params["d"], params["sigma0_2"], params["sigma_z2"]
        out["bayes"] = bayes.bayes_mse_subspace(n, d, s0, sz)
        out["projection"] = d / n * sz
    return out


def _mse_rows(case, seed, split, batch_x_query, batch_x_target, task, params):
    from .bayes import mse_per_component

    rows = []
    for name, pred in oracle_predictions(case, batch_x_query, task, params).items():
        err = mse_per_component(pred, batch_x_target)
        rows.append(
            dict(case=case, seed=int(seed), estimator=name, split=split, num_prompts=int(err.size),
                 mse=float(err.mean()), mse_se=float(err.std(ddof=1) / np.sqrt(err.size)) if err.size > 1 else float("nan"))
        )
    return rows


def evaluate_baselines(
    data_path: str, out: str, *, case: str, seed: int, n_train: int, fresh_prompts: int, fresh_seed: int
) -> None:
    """Oracle estimators on the train/test prompts of ``data_path``, on fresh prompts, and in closed form."""
    import pandas as pd

    batch = load_prompts(data_path)
    params = {k: batch.params[k] for k in CASE_PARAMS[case]}
    n = batch.X.shape[-1]
    rows = []
    for split, sl in (("train", slice(0, n_train)), ("test", slice(n_train, None))):
        task = {k: v[sl] for k, v in batch.task.items()}
        rows += _mse_rows(case, seed, split, batch.x_query[sl].astype(np.float64), batch.x_target[sl], task, params)
    # Oracles ignore the context: fresh prompts with L = 1 give the expected MSE cheaply.
    fresh = sample_prompts(case, fresh_prompts, fresh_seed, n=n, L=1, **params)
    rows += _mse_rows(case, seed, "fresh", fresh.x_query.astype(np.float64), fresh.x_target, fresh.task, params)
    for name, value in theory_mse(case, n, params).items():
        rows.append(dict(case=case, seed=int(seed), estimator=name, split="theory", num_prompts=0, mse=float(value), mse_se=0.0))
    df = pd.DataFrame(rows).astype(
        {"case": "string", "seed": "int64", "estimator": "string", "split": "string", "num_prompts": "int64", "mse": "float64", "mse_se": "float64"}
    )
    write_table(df, out)
    log.info("baselines of case %s seed %d:\n%s", case, seed, df.to_string(index=False))


# --------------------------------------------------------------------------- gathering


def gather_runs(run_paths: list[str], out_curves: str, out_weights: str, out_matrices: str, out_meta: str) -> None:
    """Collect training runs into the curves, final-weights, weight-matrix and run-metadata tables."""
    import pandas as pd

    curves, weights, matrices, meta_rows = [], [], [], []
    for path in sorted(run_paths):
        arrays, meta = load_run(path)
        case, model, seed = meta["case"], meta["model"], meta["seed"]
        E = len(arrays["train_mse"])
        for split in ("train", "test"):
            curves.append(pd.DataFrame({
                "case": case, "model": model, "seed": seed, "epoch": np.arange(E), "split": split,
                "mse": arrays[f"{split}_mse"], "lr": arrays["lr"], "alpha": arrays["alpha"], "beta": arrays["beta"],
            }))
        W_KQ, W_PV = arrays["W_KQ"], arrays["W_PV"]
        n = W_KQ.shape[0]
        a, b = float(np.mean(np.diag(W_PV))), float(np.mean(np.diag(W_KQ)))
        dist = lambda W, m: float(np.linalg.norm(W - m * np.eye(n)) / np.linalg.norm(W))  # noqa: E731
        weights.append(dict(
            case=case, model=model, seed=seed, data_seed=meta["data_seed"], epochs=meta["epochs"],
            alpha=a, beta=b, abs_alpha=abs(a), abs_beta=abs(b), alpha_beta=a * b,
            dist_KQ=dist(W_KQ, b), dist_PV=dist(W_PV, a),
            train_mse=float(arrays["train_mse"][-1]), test_mse=float(arrays["test_mse"][-1]),
        ))
        rr, cc = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        for name, W in (("W_KQ", W_KQ), ("W_PV", W_PV)):
            matrices.append(pd.DataFrame({"case": case, "model": model, "seed": seed, "matrix": name,
                                          "row": rr.ravel(), "col": cc.ravel(), "value": W.ravel()}))
        v = meta.get("versions", {})
        meta_rows.append(dict(case=case, model=model, seed=seed, device=meta["device"], seconds=meta["seconds"],
                              threads=meta["settings"].get("threads"), **{f"version_{k}": str(x) for k, x in v.items()}))
    str_cols = {"case": "string", "model": "string"}
    write_table(pd.concat(curves, ignore_index=True).astype({**str_cols, "split": "string", "seed": "int64", "epoch": "int64"}), out_curves)
    write_table(pd.DataFrame(weights).astype({**str_cols, "seed": "int64"}), out_weights)
    write_table(pd.concat(matrices, ignore_index=True).astype({**str_cols, "matrix": "string", "seed": "int64", "row": "int64", "col": "int64"}), out_matrices)
    write_table(pd.DataFrame(meta_rows).astype({**str_cols, "device": "string", "seed": "int64"}), out_meta)


def concat_tables(paths: list[str], out: str) -> None:
    """Concatenate parquet tables with the same columns (sorted by path for a stable order)."""
    import pandas as pd

    frames = [read_table(p) for p in sorted(paths)]
    write_table(pd.concat(frames, ignore_index=True), out)
