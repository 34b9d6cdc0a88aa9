"""Rule plot_training_dynamics (Figure 3): the figure from the tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.plotting.training_dynamics import plot_training_dynamics

sm = snakemake
run_rule(
    sm,
    plot_training_dynamics,
    **dict(sm.input.items()),
    out_pdf=sm.output.pdf,
    out_png=sm.output.png,
    **rule_kwargs(sm),
)
