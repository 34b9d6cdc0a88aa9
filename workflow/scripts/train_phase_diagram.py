"""Rule train_phase_diagram (phase diagram): one block of grid points of a case, trained and evaluated."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.studies.phase_diagram import train_phase_diagram

sm = snakemake
kw = rule_kwargs(sm, wildcards={"case": str}, threads=True, gpu_token=True)
run_rule(sm, train_phase_diagram, sm.output.runs, sm.output.refs, **kw)
