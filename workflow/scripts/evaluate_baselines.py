"""Rule evaluate_baselines (Figure 3): every oracle of one case on its datasets and on fresh prompts."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.studies.training_dynamics import evaluate_baselines

sm = snakemake
run_rule(sm, evaluate_baselines, list(sm.input.data), sm.output[0], **rule_kwargs(sm, wildcards={"case": str}))
