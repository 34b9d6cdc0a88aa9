"""Deviation (c) (dataset_choice): the Figure 3 subspace/linear runs retrained on the *other* dataset choice.

One shared dataset when the run samples one per seed, and vice versa, so the deviations table of the
claims step can say what the authors' shared dataset changes (rule ``train_dataset_choice``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

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


def train_dataset_choice(
    out: str,
    *,
    dataset: str,
    case: str,
    model: str,
    seeds: list[int],
    data_seeds: Mapping[int, int],
    train_seeds: Mapping[int, int],
    n: int,
    L: int,
    n_train: int,
    n_test: int,
    case_params: dict,
    epochs: int,
    train_settings: dict,
    device: str = "auto",
    threads: int = 1,
    gpu_token: int = 0,
) -> None:
    """Train ``model`` on ``case`` for every seed with the dataset choice ``dataset`` (its sampling seed per
    training seed in ``data_seeds``) and the Figure 3 runs' own training seeds; write one row per seed."""
    import pandas as pd

    from ..jobs import prepare_torch
    from ..tasks import sample_prompts
    from ..train import train_ensemble
    from .common import split_member

    prepare_torch(threads, gpu_token, device)
    datasets: dict[int, object] = {}
    members = []
    for seed in seeds:
        ds = int(data_seeds[seed])
        if ds not in datasets:  # a shared dataset is sampled once
            datasets[ds] = sample_prompts(case, n_train + n_test, ds, n=n, L=L, **case_params)
        batch = datasets[ds]
        label = f"dataset={dataset} case={case} model={model} seed={seed}"
        members.append(
            split_member(
                batch,
                n_train,
                model,
                epochs,
                train_settings,
                train_seed=train_seeds[seed],
                device=device,
                threads=threads,
                label=label,
            )
        )
    rows = []
    for seed, member, res in zip(seeds, members, train_ensemble(members), strict=True):  # one batched ensemble
        a, b = float(res.alpha[-1]), float(res.beta[-1])
        rows.append(
            dict(
                dataset=dataset,
                case=case,
                model=model,
                seed=int(seed),
                data_seed=int(data_seeds[seed]),
                train_mse=float(res.train_mse[-1]),
                test_mse=float(res.test_mse[-1]),
                alpha=a,
                beta=b,
                alpha_beta=a * b,
            )
        )
        log.info("%s: test %.5f alpha*beta %.4f", member.cfg.label, rows[-1]["test_mse"], a * b)
    write_table(pd.DataFrame(rows).astype(DATASET_CHOICE_COLUMNS), out)
