"""Rule gather_hopfield: the per-case iteration tables -> hopfield_iterations.parquet."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (the checkout's package)

from icdenoise.pipeline import concat_tables, job_logging  # noqa: E402

sm = snakemake  # noqa: F821
with job_logging(sm.log[0], sm.rule):
    concat_tables(list(sm.input), sm.output[0])
