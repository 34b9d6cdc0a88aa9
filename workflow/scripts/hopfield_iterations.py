"""Rule hopfield_iterations: the Hopfield iteration study of one case."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (the checkout's package)

from icdenoise.pipeline import job_logging  # noqa: E402

sm = snakemake  # noqa: F821
with job_logging(sm.log[0], sm.rule):
    from icdenoise.hopfield_study import run_iteration_study

    s = sm.params.settings
    run_iteration_study(
        sm.output[0],
        case=sm.wildcards.case,
        case_params=dict(sm.params.case_params),
        run_paths=list(sm.input.runs),
        n=sm.params.n,
        L=sm.params.L,
        prompts=s["prompts"],
        steps=list(s["steps"]),
        gamma_fracs=list(s["gamma_fracs"]),
        subspace_beta=sm.params.subspace_beta,
        rng_seed=sm.params.rng_seed,
        threads=sm.threads,
    )
