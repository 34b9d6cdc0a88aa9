"""Rule train: one training run (case, model, seed)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (the checkout's package)

from icdenoise.pipeline import job_logging, train_run  # noqa: E402

sm = snakemake  # noqa: F821
with job_logging(sm.log[0], sm.rule):
    train_run(
        sm.input.data,
        sm.output.run,
        case=sm.wildcards.case,
        model=sm.wildcards.model,
        seed=int(sm.wildcards.seed),
        train_seed=sm.params.train_seed,
        n_train=sm.params.n_train,
        epochs=sm.params.epochs,
        train_settings=dict(sm.params.train_settings),
        device=sm.params.device,
        threads=sm.threads,
        gpu_token=int(sm.resources.get("gpu", 0)),
    )
