"""Rule alpha_beta_landscape (Figure 6): the alpha-beta grid and marked points of every case, one process."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_per_case
from icdenoise.studies.alpha_beta_landscape import run_alpha_beta_landscape

sm = snakemake
run_per_case(
    sm,
    lambda case, out_grid, out_points, **kw: run_alpha_beta_landscape(out_grid, out_points, case=case, **kw),
    **rule_kwargs(sm, threads=True),
)
