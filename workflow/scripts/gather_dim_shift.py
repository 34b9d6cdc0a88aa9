"""Rule gather_dim_shift (Figure 4b): evaluations and oracles -> the dim_shift tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.studies.dim_shift import gather_dim_shift

sm = snakemake
i, o = sm.input, sm.output
run_rule(sm, gather_dim_shift, i.evals, i.oracles, o.table, o.oracles, o.theory, **rule_kwargs(sm))
