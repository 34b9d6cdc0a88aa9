"""Rule evaluate_dim_shift: one (case, seed) model, trained and untrained, at every shifted setting."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (the checkout's package)

from icdenoise.pipeline import job_logging  # noqa: E402
from icdenoise.studies import evaluate_dim_shift  # noqa: E402

sm = snakemake  # noqa: F821
with job_logging(sm.log[0], sm.rule):
    evaluate_dim_shift(
        sm.input.run,
        sm.output[0],
        case=sm.wildcards.case,
        seed=int(sm.wildcards.seed),
        eval_values=list(sm.params.eval_values),
        L_eval=list(sm.params.L_eval),
        eval_prompts=sm.params.eval_prompts,
        eval_seed=sm.params.eval_seed,
        threads=sm.threads,
    )
