"""Rule gather_dim_shift: Figure 4b evaluations and oracles -> the dim_shift tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (the checkout's package)

from icdenoise.pipeline import job_logging  # noqa: E402
from icdenoise.studies import gather_dim_shift  # noqa: E402

sm = snakemake  # noqa: F821
with job_logging(sm.log[0], sm.rule):
    gather_dim_shift(
        list(sm.input.evals),
        list(sm.input.oracles),
        sm.output.table,
        sm.output.oracles,
        sm.output.theory,
        n=sm.params.n,
        sigma0_2=sm.params.sigma0_2,
        sigma_z2=sm.params.sigma_z2,
    )
