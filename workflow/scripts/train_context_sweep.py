"""Rule train_context_sweep: one (L, seed) of Figure 4a, every model on the same dataset."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (the checkout's package)

from icdenoise.pipeline import job_logging  # noqa: E402
from icdenoise.studies import train_context_sweep  # noqa: E402

sm = snakemake  # noqa: F821
with job_logging(sm.log[0], sm.rule):
    train_context_sweep(
        dict(zip(sm.params.models, sm.output.runs)),
        L=int(sm.wildcards.L),
        seed=int(sm.wildcards.seed),
        n=sm.params.n,
        n_train=sm.params.n_train,
        n_test=sm.params.n_test,
        case_params=dict(sm.params.case_params),
        epochs=sm.params.epochs,
        train_settings=dict(sm.params.train_settings),
        data_seed=sm.params.data_seed,
        train_seeds=dict(sm.params.train_seeds),
        fresh_prompts=sm.params.fresh_prompts,
        fresh_seed=sm.params.fresh_seed,
        device=sm.params.device,
        threads=sm.threads,
        gpu_token=int(sm.resources.get("gpu", 0)),
    )
