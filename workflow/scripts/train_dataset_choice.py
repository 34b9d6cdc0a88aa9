"""Rule train_dataset_choice (deviation (c) of the claims): the subspace/linear runs on the other dataset choice."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.studies.dataset_choice import train_dataset_choice

sm = snakemake
run_rule(sm, train_dataset_choice, sm.output[0], **rule_kwargs(sm, threads=True, gpu_token=True))
