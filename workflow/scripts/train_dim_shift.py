"""Rule train_dim_shift: the Figure 4b linear-attention model (subspace case, one seed)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (the checkout's package)

from icdenoise.pipeline import job_logging  # noqa: E402
from icdenoise.studies import train_dim_shift  # noqa: E402

sm = snakemake  # noqa: F821
with job_logging(sm.log[0], sm.rule):
    train_dim_shift(
        sm.output.run,
        seed=int(sm.wildcards.seed),
        L=sm.params.L,
        n=sm.params.n,
        n_train=sm.params.n_train,
        n_test=sm.params.n_test,
        case_params=dict(sm.params.case_params),
        epochs=sm.params.epochs,
        train_settings=dict(sm.params.train_settings),
        data_seed=sm.params.data_seed,
        train_seed=sm.params.train_seed,
        device=sm.params.device,
        threads=sm.threads,
        gpu_token=int(sm.resources.get("gpu", 0)),
    )
