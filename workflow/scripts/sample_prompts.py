"""Rule sample_prompts (Figure 3): the datasets of one case, one per data seed."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.studies.training_dynamics import sample_datasets

sm = snakemake
run_rule(sm, sample_datasets, list(sm.output), **rule_kwargs(sm, wildcards={"case": str}))
