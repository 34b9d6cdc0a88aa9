"""Rule train (Figure 3): one training run (case, model, seed)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.studies.training_dynamics import train_run

sm = snakemake
kwargs = rule_kwargs(sm, wildcards={"case": str, "model": str, "seed": int}, threads=True, gpu_token=True)
run_rule(sm, train_run, sm.input.data, sm.output.run, **kwargs)
