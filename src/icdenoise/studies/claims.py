"""Claims (claims): the reproduction verdict, every claim of the paper checked against this run's tables.

What the rule ``claims`` of ``workflow/rules/claims.smk`` calls: :func:`build_claims` reads only
``tables/*.parquet``, calls each study's claims (``icdenoise/claims/<study>.py``, the studies of
:data:`CLAIM_STUDIES` in order) and the deviations (``icdenoise/claims/deviations.py``), and writes
``claims.parquet``, ``deviations.parquet``, ``claims.md`` and the report's HTML pages (rendered by
``icdenoise/claims_render.py``). The statistics, tolerances and verdicts are ``icdenoise/verdict.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..claims import for_study
from ..claims.deviations import evaluate_deviations
from ..claims_render import claims_html, claims_markdown, deviations_html, summary
from ..io import atomic_output, read_table, write_table
from ..verdict import CLAIM_COLUMNS, DEVIATION_COLUMNS, FAILED, Claim, Scale

log = logging.getLogger("icdenoise")

#: The studies whose claims the table holds, in this order (a study without ``claims/<study>.py`` is skipped).
CLAIM_STUDIES = (
    "training_dynamics",
    "alpha_beta_landscape",
    "context_sweep",
    "dim_shift",
    "dam_energy",
    "hopfield_iterations",
    "gap_study",
    "depth",
)
#: The Figure 3 and Figure 6 claims in the order of the paper (§3.2-3.4); every other claim follows them in the
#: order its study gives.
PAPER_ORDER = (
    "case1_linear_alphabeta",
    "case1_linear_near_bayes",
    "case1_linear_scaled_identity",
    "case1_softmax_beta",
    "case1_softmax_alpha",
    "case1_softmax_similar",
    "case1_softmax_epsilon",
    "case2_scaled_identity",
    "case2_near_bayes",
    "case2_valley",
    "case3_alpha",
    "case3_beta",
    "case3_beta_below",
    "case3_valley",
)


def evaluate_claims(tables: Mapping, settings: Mapping) -> list[Claim]:
    """Every claim of every study in :data:`CLAIM_STUDIES`, in the order of the paper."""
    scale = Scale(settings)
    tol = settings["claims"]["tolerances"]
    claims = []
    for study in CLAIM_STUDIES:
        module = for_study(study)
        if module is not None:
            claims += module.claims(tables, settings, scale, tol)
    claims.sort(key=lambda c: PAPER_ORDER.index(c["id"]) if c["id"] in PAPER_ORDER else len(PAPER_ORDER))
    return claims


def load_tables(paths) -> dict:
    """``tables/<name>.parquet`` files as {name: DataFrame}."""
    return {Path(p).name.removesuffix(".parquet"): read_table(p) for p in paths}


def build_claims(
    table_paths,
    out_claims: str,
    out_deviations: str,
    out_md: str,
    out_claims_html: str,
    out_deviations_html: str,
    *,
    settings: Mapping,
    strict: bool = False,
) -> dict:
    """Rule claims: evaluate every claim and deviation from the tables; write the five outputs.

    With ``strict`` the job fails (after logging the table) when any claim is "not reproduced".
    """
    tables = load_tables(table_paths)
    claims = evaluate_claims(tables, settings)
    deviations = evaluate_deviations(tables, settings)
    df = pd.DataFrame(claims, columns=[*CLAIM_COLUMNS, "note"]).astype({**CLAIM_COLUMNS, "note": "string"})
    write_table(df, out_claims)
    write_table(pd.DataFrame(deviations, columns=list(DEVIATION_COLUMNS)).astype(DEVIATION_COLUMNS), out_deviations)
    md = claims_markdown(claims, deviations, settings)
    for path, text in (
        (out_md, md),
        (out_claims_html, claims_html(claims, settings)),
        (out_deviations_html, deviations_html(deviations)),
    ):
        with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
    s = summary(claims)
    log.info("%s\n\n%s", s["text"], md)
    if strict and s["failing"]:
        why = "\n".join(f"  - {c['id']}: {c['note']}" for c in claims if c["verdict"] == FAILED)
        raise SystemExit(
            f"strict_claims: {len(s['failing'])} claim(s) not reproduced: {', '.join(s['failing'])}\n{why}\n"
            "(the full claims table is in this job's log; rerun without strict_claims to keep claims.md)"
        )
    return s
