"""Rule train (Figure 3): every (model, seed) run of one case, as one batched ensemble."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.studies.training_dynamics import train_runs

sm = snakemake
kwargs = rule_kwargs(sm, wildcards={"case": str}, threads=True, gpu_token=True)
run_rule(sm, train_runs, list(sm.input.data), list(sm.output.runs), **kwargs)
