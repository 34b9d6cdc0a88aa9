"""Rule evaluate_dim_shift (Figure 4b): every model of one case, trained and untrained, at every shifted setting."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.studies.dim_shift import evaluate_dim_shift

sm = snakemake
kwargs = rule_kwargs(sm, wildcards={"case": str}, threads=True)
run_rule(sm, evaluate_dim_shift, list(sm.input.runs), sm.output[0], **kwargs)
