"""Rule gather_context_sweep (Figure 4a): the runs -> context_sweep and context_sweep_theory tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import run_rule
from icdenoise.studies.context_sweep import gather_context_sweep

sm = snakemake
run_rule(sm, gather_context_sweep, list(sm.input.runs), sm.output.table, sm.output.theory)
