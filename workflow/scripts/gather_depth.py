"""Rule gather_depth (depth): per-job tables -> depth, depth_runs, depth_layers."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import run_rule
from icdenoise.studies.depth import gather_depth

sm = snakemake
inp, out = sm.input, sm.output
run_rule(sm, gather_depth, list(inp.summary), list(inp.runs), list(inp.layers), out.summary, out.runs, out.layers)
