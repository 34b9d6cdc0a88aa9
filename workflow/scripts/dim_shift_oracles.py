"""Rule dim_shift_oracles: oracle MSEs of one case at every shifted setting."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (the checkout's package)

from icdenoise.pipeline import job_logging  # noqa: E402
from icdenoise.studies import dim_shift_oracles  # noqa: E402

sm = snakemake  # noqa: F821
with job_logging(sm.log[0], sm.rule):
    dim_shift_oracles(
        sm.output[0],
        case=sm.wildcards.case,
        base_params=dict(sm.params.base_params),
        n=sm.params.n,
        eval_values=list(sm.params.eval_values),
        num_prompts=sm.params.num_prompts,
        seed=sm.params.rng_seed,
    )
