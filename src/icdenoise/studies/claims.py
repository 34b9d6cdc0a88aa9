"""Claims (claims): the reproduction verdict, every claim of the paper checked against this run's tables.

What the rules of ``workflow/rules/claims.smk`` call:

- :func:`train_dataset_choice` trains the Figure 3 subspace/linear setting for every seed on the *other*
  dataset choice (one shared dataset when the run samples one per seed, and vice versa), so the
  deviations table can say what the authors' shared dataset changes;
- :func:`build_claims` reads only ``tables/*.parquet``, evaluates every claim of the paper (and the
  findings of this project) with its tolerance from the ``claims:`` config block, and writes
  ``claims.parquet``, ``deviations.parquet``, ``claims.md`` and the report's HTML pages.

Statistics: a seed mean is reported with the seeds' min–max and its standard error (sd/√seeds); a
Monte Carlo value with ± its standard error. A claim with a numeric paper value is "reproduced" when
|mean − paper| ≤ k·SE (k from config, with the SE floored by a configured relative precision, the
paper's rounding), or within a stated theory margin. No number that decides a verdict is typed here.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

import numpy as np

from ..io import write_table

log = logging.getLogger("icdenoise")

REPRODUCED, FAILED, UNCHECKABLE = "reproduced", "not reproduced", "not checkable at this scale"
VERDICTS = (REPRODUCED, FAILED, UNCHECKABLE)

#: The ten columns of claims.parquet (what `icdenoise claims` prints), then numeric extras.
CLAIM_TEXT_COLUMNS = (
    "id",
    "source",
    "statement",
    "paper_value",
    "reproduced",
    "spread",
    "tolerance",
    "tolerance_reason",
    "verdict",
    "evidence",
)
CLAIM_COLUMNS = {
    **dict.fromkeys(CLAIM_TEXT_COLUMNS, "string"),
    "paper_value_num": "float64",
    "reproduced_value": "float64",
    "reproduced_se": "float64",
    "reproduced_min": "float64",
    "reproduced_max": "float64",
    "tolerance_value": "float64",
}
DEVIATION_COLUMNS = {
    "id": "string",
    "deviation": "string",
    "authors": "string",
    "this_run": "string",
    "effect": "string",
    "effect_value": "float64",
    "effect_se": "float64",
    "evidence": "string",
}
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


# --------------------------------------------------------------------------------------------
# Deviation (c): one dataset per seed against one shared dataset
# --------------------------------------------------------------------------------------------


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
    from ..train import TrainConfig, train

    prepare_torch(threads, gpu_token, device)
    datasets: dict[int, object] = {}
    rows = []
    for seed in seeds:
        ds = int(data_seeds[seed])
        if ds not in datasets:  # a shared dataset is sampled once
            datasets[ds] = sample_prompts(case, n_train + n_test, ds, n=n, L=L, **case_params)
        batch = datasets[ds]
        cfg = TrainConfig.from_settings(
            model,
            epochs,
            train_settings,
            seed=int(train_seeds[seed]),
            device=device,
            threads=threads,
            label=f"dataset={dataset} case={case} model={model} seed={seed}",
        )
        res = train(batch.subset(slice(0, n_train)), batch.subset(slice(n_train, None)), cfg)
        a, b = float(res.alpha[-1]), float(res.beta[-1])
        rows.append(
            dict(
                dataset=dataset,
                case=case,
                model=model,
                seed=int(seed),
                data_seed=ds,
                train_mse=float(res.train_mse[-1]),
                test_mse=float(res.test_mse[-1]),
                alpha=a,
                beta=b,
                alpha_beta=a * b,
            )
        )
        log.info("%s: test %.5f alpha*beta %.4f (%.2f s)", cfg.label, rows[-1]["test_mse"], a * b, res.seconds)
    write_table(pd.DataFrame(rows).astype(DATASET_CHOICE_COLUMNS), out)
