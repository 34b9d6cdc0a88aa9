"""Rule plot_alpha_beta_landscape (Figure 6): the figure from the tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.plotting.alpha_beta_landscape import plot_alpha_beta_landscape

sm = snakemake
run_rule(
    sm,
    plot_alpha_beta_landscape,
    **dict(sm.input.items()),
    out_pdf=sm.output.pdf,
    out_png=sm.output.png,
    **rule_kwargs(sm),
)
