"""Rule plot_fig5: Figure 5 from the tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (the checkout's package)

from icdenoise.pipeline import job_logging  # noqa: E402

sm = snakemake  # noqa: F821
with job_logging(sm.log[0], sm.rule):
    from icdenoise.plotting.fig5 import plot_fig5

    plot_fig5(
        trajectories=sm.input.trajectories,
        energy=sm.input.energy,
        context=sm.input.context,
        out_pdf=sm.output.pdf,
        out_png=sm.output.png,
        panels=list(sm.params.panels),
    )
