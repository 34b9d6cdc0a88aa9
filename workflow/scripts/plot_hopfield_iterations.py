"""Rule plot_hopfield_iterations (Hopfield iterations): the figure from the tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.plotting.hopfield_iterations import plot_hopfield_iterations

sm = snakemake
run_rule(
    sm,
    plot_hopfield_iterations,
    **dict(sm.input.items()),
    out_pdf=sm.output.pdf,
    out_png=sm.output.png,
    **rule_kwargs(sm),
)
