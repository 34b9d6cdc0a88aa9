"""Rule gather_phase_diagram (phase diagram): per-job tables -> the grid tables and one folder per point."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.studies.phase_diagram import gather_phase_diagram

sm = snakemake
out = sm.output
run_rule(
    sm,
    gather_phase_diagram,
    list(sm.input.runs),
    list(sm.input.refs),
    out.table,
    out.runs,
    out.checks,
    out.summary,
    out.points,
    **rule_kwargs(sm),
)
