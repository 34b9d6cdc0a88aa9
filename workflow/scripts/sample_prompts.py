"""Rule sample_prompts: one dataset of prompts for (case, seed)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (the checkout's package)

from icdenoise.pipeline import job_logging, sample_dataset  # noqa: E402

with job_logging(snakemake.log[0], snakemake.rule):  # noqa: F821
    sample_dataset(
        snakemake.output[0],  # noqa: F821
        case=snakemake.wildcards.case,  # noqa: F821
        seed=snakemake.params.rng_seed,  # noqa: F821
        n=snakemake.params.n,  # noqa: F821
        L=snakemake.params.L,  # noqa: F821
        num_prompts=snakemake.params.num_prompts,  # noqa: F821
        params=dict(snakemake.params.case_params),  # noqa: F821
    )
