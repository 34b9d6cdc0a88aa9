"""Rule train_context_sweep (Figure 4a): one (L, seed), every model trained on the same dataset."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.studies.context_sweep import train_context_sweep

sm = snakemake
kwargs = rule_kwargs(sm, wildcards={"L": int, "seed": int}, threads=True, gpu_token=True)
outs = dict(zip(kwargs.pop("models"), sm.output.runs, strict=True))
run_rule(sm, train_context_sweep, outs, **kwargs)
