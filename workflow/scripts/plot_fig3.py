"""Rule plot_fig3: Figure 3 from the tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (the checkout's package)

from icdenoise.pipeline import job_logging  # noqa: E402

sm = snakemake  # noqa: F821
with job_logging(sm.log[0], sm.rule):
    from icdenoise.plotting.fig3 import plot_fig3

    plot_fig3(
        curves=sm.input.curves,
        matrices=sm.input.matrices,
        weights=sm.input.weights,
        baselines=sm.input.baselines,
        out_pdf=sm.output.pdf,
        out_png=sm.output.png,
        heatmap_seed=sm.params.heatmap_seed,
    )
