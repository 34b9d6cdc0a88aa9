"""Rule gather_training_dynamics (Figure 3): training runs and baselines -> the Figure 3 tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import run_rule
from icdenoise.studies.training_dynamics import gather_training_dynamics

sm = snakemake
i, o = sm.input, sm.output
run_rule(sm, gather_training_dynamics, i.runs, i.baselines, o.curves, o.weights, o.matrices, o.baselines, o.meta)
