"""Rule hopfield_iterations (Hopfield iterations): the iteration study of one case."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.studies.hopfield_iterations import run_iteration_study

sm = snakemake
kwargs = rule_kwargs(sm, wildcards={"case": str}, threads=True)
run_rule(sm, run_iteration_study, sm.output[0], run_paths=list(sm.input.runs), **kwargs)
