"""Rule gather_noisy_context (noisy context): per-case tables -> noisy_context, _summary, _illustration."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.studies.noisy_context import gather_noisy_context

sm = snakemake
out = sm.output
run_rule(sm, gather_noisy_context, list(sm.input), out.table, out.summary, out.illustration, **rule_kwargs(sm))
