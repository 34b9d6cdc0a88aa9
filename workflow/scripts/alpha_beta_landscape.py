"""Rule alpha_beta_landscape (Figure 6): one case's alpha-beta grid and marked points."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.studies.alpha_beta_landscape import run_alpha_beta_landscape

sm = snakemake
kwargs = rule_kwargs(sm, wildcards={"case": str}, threads=True)
run_rule(sm, run_alpha_beta_landscape, sm.output.grid, sm.output.points, run_paths=list(sm.input.runs), **kwargs)
