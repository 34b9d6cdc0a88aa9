"""Rule train_dim_shift (Figure 4b): the linear-attention model (subspace case, one seed)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.studies.dim_shift import train_dim_shift

sm = snakemake
kwargs = rule_kwargs(sm, wildcards={"seed": int}, threads=True, gpu_token=True)
run_rule(sm, train_dim_shift, sm.output.run, **kwargs)
