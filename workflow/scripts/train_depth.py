"""Rule train_depth (depth): one (case, family, L), every (K, tied, seed) trained, then evaluated on fresh prompts."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.studies.depth import train_depth

sm = snakemake
kw = rule_kwargs(sm, wildcards={"case": str, "family": str, "L": int}, threads=True, gpu_token=True)
run_rule(sm, train_depth, sm.output.summary, sm.output.runs, sm.output.layers, **kw)
