"""Rule gather_noisy_context_trained (noisy context): per-case trained tables -> noisy_context_trained.parquet."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import run_rule
from icdenoise.studies.noisy_context_trained import gather_trained

sm = snakemake
run_rule(sm, gather_trained, list(sm.input), sm.output[0])
