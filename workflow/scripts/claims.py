"""Rule claims: every claim of the paper and every deviation from the authors' code, from the tables."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the checkout's package

from icdenoise.jobs import rule_kwargs, run_rule
from icdenoise.studies.claims import build_claims

sm = snakemake
i, o = sm.input, sm.output
run_rule(sm, build_claims, i.tables, o.claims, o.deviations, o.md, o.claims_html, o.deviations_html, **rule_kwargs(sm))
