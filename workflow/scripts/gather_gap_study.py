"""Rule gather_gap_study (gap study): per-job tables -> gap_study, gap_study_references, gap_study_summary."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.studies.gap_study import gather_gap_study

sm = snakemake
out = sm.output
run_rule(
    sm, gather_gap_study, list(sm.input.runs), list(sm.input.refs), out.table, out.refs, out.summary, **rule_kwargs(sm)
)
