"""Rule train_noisy_context (noisy context): one case, every (K, skip, seed) trained, then evaluated (fresh prompts)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.studies.noisy_context_trained import train_noisy_context

sm = snakemake
kw = rule_kwargs(sm, wildcards={"case": str}, threads=True, gpu_token=True)
run_rule(sm, train_noisy_context, sm.output[0], **kw)
