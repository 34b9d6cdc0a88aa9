"""Deviation (c) (dataset_choice): the Figure 3 subspace/linear runs retrained on the *other* dataset choice.

One shared dataset when the run samples one per seed, and vice versa, so the deviations table of the
claims step can say what the authors' shared dataset changes (rule ``train_dataset_choice``).
"""

from __future__ import annotations

import logging

from ..io import write_table

log = logging.getLogger("icdenoise")

DATASET_CHOICE_COLUMNS = {
    "dataset": "string",
    "case": "string",
    "model": "string",
    "seed": "int64",
    "data_seed": "int64",
    "train_mse": "float64",
    "test_mse": "float64",
    "alpha": "float64",
    "beta": "float64",
    "alpha_beta": "float64",
}


def other_dataset(config) -> str:
    """The dataset choice this step trains on: the one the run did not use."""
    return "shared" if config["dataset"] == "per_seed" else "per_seed"


def wanted_runs(config) -> list:
    """The Figure 3 subspace/linear runs (the same seeds, initialisations and batch orders) on the other dataset
    choice: one shared dataset when the run samples one per seed, and vice versa."""
    from dataclasses import replace

    from .training_dynamics import wanted_runs as fig3_runs

    specs = fig3_runs(config, case="subspace", models=["linear"], dataset=other_dataset(config))
    return [replace(spec, study="dataset_choice") for spec in specs]


def train_dataset_choice(
    out: str, *, runs: list[dict], dataset: str, device: str = "auto", threads: int = 1, gpu_token: int = 0
) -> None:
    """Train the planned ``runs`` (every seed, the dataset choice ``dataset``) as one ensemble; one row per seed."""
    import pandas as pd

    from ..jobs import prepare_torch
    from ..runs import runs_from_params, train_runs

    prepare_torch(threads, gpu_token, device)
    rows = []
    for rec in train_runs(runs_from_params(runs), device=device, threads=threads):
        res = rec.result
        a, b = float(res.alpha[-1]), float(res.beta[-1])
        rows.append(
            dict(
                dataset=dataset,
                case=rec.run.case,
                model=rec.run.model,
                seed=int(rec.run.seed),
                data_seed=rec.run.data_seed,
                train_mse=float(res.train_mse[-1]),
                test_mse=float(res.test_mse[-1]),
                alpha=a,
                beta=b,
                alpha_beta=a * b,
            )
        )
    write_table(pd.DataFrame(rows).astype(DATASET_CHOICE_COLUMNS), out)
