"""Rule plot_phase_diagram (phase diagram): the figure from the tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.plotting.phase_diagram import plot_phase_diagram

sm = snakemake
run_rule(sm, plot_phase_diagram, sm.input.table, sm.output.pdf, sm.output.png, **rule_kwargs(sm))
