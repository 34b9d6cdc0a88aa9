"""Rule train_context_sweep (Figure 4a): one model at every (L, seed), the seeds of each L batched."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.studies.context_sweep import train_context_sweep

sm = snakemake
run_rule(sm, train_context_sweep, list(sm.output.runs), **rule_kwargs(sm, threads=True, gpu_token=True))
