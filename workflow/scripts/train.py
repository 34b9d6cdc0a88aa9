"""Rule train (Figure 3): every (model, seed) run of one case, as one batched ensemble (the run layer)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.runs import train_job

sm = snakemake
run_rule(sm, train_job, list(sm.output.runs), **rule_kwargs(sm, threads=True, gpu_token=True))
