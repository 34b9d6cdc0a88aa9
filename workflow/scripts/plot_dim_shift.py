"""Rule plot_dim_shift (Figure 4b): the figure from the tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.plotting.dim_shift import plot_dim_shift

sm = snakemake
run_rule(sm, plot_dim_shift, **dict(sm.input.items()), out_pdf=sm.output.pdf, out_png=sm.output.png, **rule_kwargs(sm))
