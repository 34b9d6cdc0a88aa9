"""Rule plot_hopfield_iterations: the iteration-study figure from the tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (the checkout's package)

from icdenoise.pipeline import job_logging  # noqa: E402

sm = snakemake  # noqa: F821
with job_logging(sm.log[0], sm.rule):
    from icdenoise.plotting.hopfield import plot_hopfield_iterations

    plot_hopfield_iterations(
        iterations=sm.input.iterations,
        baselines=sm.input.baselines,
        out_pdf=sm.output.pdf,
        out_png=sm.output.png,
    )
