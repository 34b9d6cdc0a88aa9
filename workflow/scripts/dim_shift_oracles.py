"""Rule dim_shift_oracles (Figure 4b): oracle MSEs of one case at every shifted setting."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.studies.dim_shift import dim_shift_oracles

sm = snakemake
run_rule(sm, dim_shift_oracles, sm.output[0], **rule_kwargs(sm, wildcards={"case": str}))
