"""Rule gather_context_sweep: Figure 4a runs -> context_sweep and context_sweep_theory tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (the checkout's package)

from icdenoise.pipeline import job_logging  # noqa: E402
from icdenoise.studies import gather_context_sweep  # noqa: E402

sm = snakemake  # noqa: F821
with job_logging(sm.log[0], sm.rule):
    gather_context_sweep(list(sm.input.runs), sm.output.table, sm.output.theory)
