"""Rule plot_depth (depth): the figure from the tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import run_rule
from icdenoise.plotting.depth import plot_depth

sm = snakemake
run_rule(sm, plot_depth, **dict(sm.input.items()), out_pdf=sm.output.pdf, out_png=sm.output.png)
