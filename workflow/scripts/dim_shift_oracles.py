"""Rule dim_shift_oracles (Figure 4b): zero predictor and Bayes oracle of every case at the shifted settings."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_per_case
from icdenoise.studies.dim_shift import dim_shift_oracles

sm = snakemake
run_per_case(sm, lambda case, out, **kw: dim_shift_oracles(out, case=case, **kw), **rule_kwargs(sm))
