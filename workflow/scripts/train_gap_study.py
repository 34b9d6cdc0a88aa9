"""Rule train_gap_study (gap study): one (case, model, L), every N and seed and the online runs, batched."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.studies.gap_study import train_gap_study

sm = snakemake
kw = rule_kwargs(sm, wildcards={"case": str, "model": str, "L": int}, threads=True, gpu_token=True)
run_rule(sm, train_gap_study, sm.output.runs, sm.output.refs, **kw)
