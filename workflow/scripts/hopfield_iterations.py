"""Rule hopfield_iterations (Hopfield iterations): the iteration study of every case, one process."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_per_case
from icdenoise.studies.hopfield_iterations import run_iteration_study

sm = snakemake
run_per_case(sm, lambda case, out, **kw: run_iteration_study(out, case=case, **kw), **rule_kwargs(sm, threads=True))
