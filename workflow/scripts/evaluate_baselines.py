"""Rule evaluate_baselines: oracle estimators on one dataset (train/test split) and fresh prompts."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (the checkout's package)

from icdenoise.pipeline import evaluate_baselines, job_logging  # noqa: E402

sm = snakemake  # noqa: F821
with job_logging(sm.log[0], sm.rule):
    evaluate_baselines(
        sm.input.data,
        sm.output[0],
        case=sm.wildcards.case,
        seed=int(sm.wildcards.seed),
        n_train=sm.params.n_train,
        fresh_prompts=sm.params.fresh_prompts,
        fresh_seed=sm.params.fresh_seed,
    )
