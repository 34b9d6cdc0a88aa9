"""Rule plot_fig6: Figure 6 from the tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (the checkout's package)

from icdenoise.pipeline import job_logging  # noqa: E402

sm = snakemake  # noqa: F821
with job_logging(sm.log[0], sm.rule):
    from icdenoise.plotting.fig6 import plot_fig6

    plot_fig6(grid=sm.input.grid, points=sm.input.points, out_pdf=sm.output.pdf, out_png=sm.output.png)
