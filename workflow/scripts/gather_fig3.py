"""Rule gather_fig3: training runs and baselines -> the Figure 3 tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (the checkout's package)

from icdenoise.pipeline import concat_tables, gather_runs, job_logging  # noqa: E402

sm = snakemake  # noqa: F821
with job_logging(sm.log[0], sm.rule):
    gather_runs(list(sm.input.runs), sm.output.curves, sm.output.weights, sm.output.matrices, sm.output.meta)
    concat_tables(list(sm.input.baselines), sm.output.baselines)
