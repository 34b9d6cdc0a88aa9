"""Rule evaluate_baselines (Figure 3): every oracle of every case on its datasets and on fresh prompts."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_per_case
from icdenoise.studies.training_dynamics import evaluate_baselines

sm = snakemake
run_per_case(
    sm, lambda case, data_paths, out, **kw: evaluate_baselines(data_paths, out, case=case, **kw), **rule_kwargs(sm)
)
