"""Rule fig5_data: the Figure 5 tables (energy grid, context, trajectories)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (the checkout's package)

from icdenoise.pipeline import job_logging  # noqa: E402

sm = snakemake  # noqa: F821
with job_logging(sm.log[0], sm.rule):
    from icdenoise.hopfield_study import run_fig5

    run_fig5(
        sm.output.trajectories,
        sm.output.energy,
        sm.output.context,
        settings=dict(sm.params.settings),
        seed=sm.params.rng_seed,
    )
