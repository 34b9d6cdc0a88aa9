"""Rule plot_noisy_context (noisy context): the figure from the tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import run_rule
from icdenoise.plotting.noisy_context import plot_noisy_context

sm = snakemake
run_rule(sm, plot_noisy_context, **dict(sm.input.items()), out_pdf=sm.output.pdf, out_png=sm.output.png)
