"""Rule sample_prompts (Figure 3): one dataset of prompts for (case, data seed)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.studies.training_dynamics import sample_dataset

sm = snakemake
run_rule(sm, sample_dataset, sm.output[0], **rule_kwargs(sm, wildcards={"case": str}))
