"""Rule plot_fig4b: Figure 4b from the tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (the checkout's package)

from icdenoise.pipeline import job_logging  # noqa: E402

sm = snakemake  # noqa: F821
with job_logging(sm.log[0], sm.rule):
    from icdenoise.plotting.fig4 import plot_fig4b

    plot_fig4b(sm.input.table, sm.input.oracles, sm.input.theory, sm.output.pdf, sm.output.png)
