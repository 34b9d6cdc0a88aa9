"""Rule plot_gap_study (gap study): the figure from the tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import run_rule
from icdenoise.plotting.gap_study import plot_gap_study

sm = snakemake
run_rule(sm, plot_gap_study, **dict(sm.input.items()), out_pdf=sm.output.pdf, out_png=sm.output.png)
