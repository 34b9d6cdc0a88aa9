"""Rule sample_prompts (Figure 3): the datasets of every case, one process."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_per_case
from icdenoise.studies.training_dynamics import sample_datasets

sm = snakemake
run_per_case(sm, lambda case, out_paths, **kw: sample_datasets(out_paths, case=case, **kw), **rule_kwargs(sm))
