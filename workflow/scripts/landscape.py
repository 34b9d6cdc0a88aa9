"""Rule landscape: one case's alpha-beta grid and marked points (Figure 6)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (the checkout's package)

from icdenoise.pipeline import job_logging  # noqa: E402

sm = snakemake  # noqa: F821
with job_logging(sm.log[0], sm.rule):
    from icdenoise.landscape_study import run_landscape

    run_landscape(
        sm.output.grid,
        sm.output.points,
        case=sm.wildcards.case,
        case_params=dict(sm.params.case_params),
        run_paths=list(sm.input.runs),
        n=sm.params.n,
        L=sm.params.L,
        prompts=sm.params.prompts,
        alpha_range=list(sm.params.ranges["alpha"]),
        beta_range=list(sm.params.ranges["beta"]),
        grid_size=sm.params.grid_size,
        subspace_beta=sm.params.subspace_beta,
        rng_seed=sm.params.rng_seed,
        threads=sm.threads,
    )
