"""Rule plot_dam_energy (Figure 5): the figure from the tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.plotting.dam_energy import plot_dam_energy

sm = snakemake
run_rule(sm, plot_dam_energy, **dict(sm.input.items()), out_pdf=sm.output.pdf, out_png=sm.output.png, **rule_kwargs(sm))
