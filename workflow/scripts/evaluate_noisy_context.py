"""Rule evaluate_noisy_context (noisy context): one case, every estimator and grid point on shared fresh prompts."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.studies.noisy_context import evaluate_noisy_context

sm = snakemake
kw = rule_kwargs(sm, wildcards={"case": str}, threads=True)
run_rule(sm, evaluate_noisy_context, out=sm.output[0], **kw)
