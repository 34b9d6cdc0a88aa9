"""Rule evaluate_dim_shift (Figure 4b): every model of every case on the shifted settings, one process."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_per_case
from icdenoise.studies.dim_shift import evaluate_dim_shift

sm = snakemake
run_per_case(
    sm,
    lambda case, run_paths, out, **kw: evaluate_dim_shift(run_paths, out, case=case, **kw),
    **rule_kwargs(sm, threads=True),
)
