"""Rule plot_context_sweep (Figure 4a): the figure from the tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.plotting.context_sweep import plot_context_sweep

sm = snakemake
run_rule(
    sm, plot_context_sweep, **dict(sm.input.items()), out_pdf=sm.output.pdf, out_png=sm.output.png, **rule_kwargs(sm)
)
