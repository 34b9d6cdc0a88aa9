"""Rule gather_landscape: per-case grids and points -> landscape.parquet, landscape_points.parquet."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (the checkout's package)

from icdenoise.pipeline import concat_tables, job_logging  # noqa: E402

sm = snakemake  # noqa: F821
with job_logging(sm.log[0], sm.rule):
    concat_tables(list(sm.input.grids), sm.output.grid)
    concat_tables(list(sm.input.points), sm.output.points)
