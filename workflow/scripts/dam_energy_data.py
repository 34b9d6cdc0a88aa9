"""Rule dam_energy_data (Figure 5): the energy grid, context and trajectory tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.studies.dam_energy import run_dam_energy

sm = snakemake
o = sm.output
run_rule(sm, run_dam_energy, o.trajectories, o.energy, o.context, **rule_kwargs(sm))
