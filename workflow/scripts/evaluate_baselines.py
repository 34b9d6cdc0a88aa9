"""Rule evaluate_baselines (Figure 3): oracle estimators on one dataset (train/test split) and fresh prompts."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.studies.training_dynamics import evaluate_baselines

sm = snakemake
kwargs = rule_kwargs(sm, wildcards={"case": str, "seed": int})
run_rule(sm, evaluate_baselines, sm.input.data, sm.output[0], **kwargs)
