"""Rule gather_alpha_beta_landscape (Figure 6): per-case grids and points -> the landscape tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import run_rule
from icdenoise.studies.alpha_beta_landscape import gather_alpha_beta_landscape

sm = snakemake
i, o = sm.input, sm.output
run_rule(sm, gather_alpha_beta_landscape, i.grids, i.points, o.grid, o.points)
