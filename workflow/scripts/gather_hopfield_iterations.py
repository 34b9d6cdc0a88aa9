"""Rule gather_hopfield_iterations (Hopfield iterations): the per-case tables -> hopfield_iterations.parquet."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.io import concat_tables
from icdenoise.jobs import run_rule

sm = snakemake
run_rule(sm, concat_tables, list(sm.input), sm.output[0])
