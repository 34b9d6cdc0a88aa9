"""The claims step's outputs as text: claims.md and the report's Verdict pages (claims.html, deviations.html).

Rendering only: the rows come from :mod:`icdenoise.claims` (every verdict already decided).
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from .verdict import (
    CLAIM,
    CLAIM_TEXT_COLUMNS,
    DEVIATION_COLUMNS,
    FAILED,
    REPORTED,
    REPRODUCED,
    SANITY,
    UNCHECKABLE,
    VERDICTS,
)

#: claims.md's table: the text columns of claims.parquet, the false-alarm rate in place of the tolerance's reason (the
#: reasons are listed once under "Tolerances") and without the evidence.
MD_CLAIM_COLUMNS = tuple(
    "false_alarm" if col == "tolerance_reason" else col for col in CLAIM_TEXT_COLUMNS if col != "evidence"
)
MD_DEVIATION_COLUMNS = ("id", "deviation", "authors", "this_run", "effect", "evidence")


def kind_of(c: Mapping) -> str:
    return c.get("kind") or CLAIM


def summary(claims: list[dict]) -> dict:
    """The verdict counts of the paper's claims (sanity checks and reported rows are outside the count), the
    failing ids (claims and sanity checks: both fail strict_claims) and the one-line text."""
    counted = [c for c in claims if kind_of(c) == CLAIM]
    sanity = [c for c in claims if kind_of(c) == SANITY]
    counts = {v: sum(c["verdict"] == v for c in counted) for v in VERDICTS}
    failing = [c["id"] for c in claims if c["verdict"] == FAILED and kind_of(c) in (CLAIM, SANITY)]
    bad_sanity = sum(c["verdict"] == FAILED for c in sanity)
    text = (
        f"{counts[REPRODUCED]} of {len(counted)} claims reproduced, {counts[FAILED]} not reproduced, "
        f"{counts[UNCHECKABLE]} not checkable at this scale"
    )
    if sanity:
        text += f" (and {len(sanity) - bad_sanity} of {len(sanity)} sanity checks pass)"
    return dict(counts=counts, failing=failing, total=len(counted), text=text)


def plain(value) -> str:
    """A setting as a reader writes it: mappings as "k = v, ...", lists as "a, b" (no Python reprs)."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k} = {plain(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(plain(v) for v in value) + "]"
    return str(value)


def settings_line(settings: Mapping) -> str:
    """This run's settings in one line (claims.md, claims.html)."""
    cases = "; ".join(f"{k} ({plain(v)})" for k, v in settings["cases"].items())
    return (
        f"n = {settings['n']}, L = {settings['L']}, n_train = {settings['n_train']}, n_test = {settings['n_test']}, "
        f"seeds {plain(list(settings['seeds']))}, dataset {settings['dataset']}; cases: {cases}"
    )


def _md_cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _md_table(rows: list[dict], columns) -> list[str]:
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(_md_cell(r[c]) for c in columns) + " |" for r in rows]
    return out


def claims_markdown(claims: list[dict], deviations: list[dict], settings: Mapping) -> str:
    """claims.md: the verdict, the claims table, why claims fail or are not checkable, tolerances, deviations."""
    s = summary(claims)
    counted = [c for c in claims if kind_of(c) == CLAIM]
    lines = [
        "# Reproduction verdict",
        "",
        f"**{s['text']}.**",
        "",
        f"Settings of this run: {settings_line(settings)}.",
        "",
        "The false-alarm column: the chance that the row's rule says 'not reproduced' when the quantity's true "
        "value is the paper's (or sits on its natural bound, such as Bayes), from its tolerance rule.",
        "",
        *_md_table(counted, MD_CLAIM_COLUMNS),
        "",
    ]
    for kind, title, blurb in (
        (
            SANITY,
            "Sanity checks (outside the count)",
            "Identities that only a bug can break: strict_claims fails on them.",
        ),
        (REPORTED, "Reported without a verdict", "Quantities the paper prints that this run cannot test."),
    ):
        rows = [c for c in claims if kind_of(c) == kind]
        if rows:
            lines += [f"## {title}", "", blurb, "", *_md_table(rows, MD_CLAIM_COLUMNS), ""]
    lines += ["## Why claims fail", ""]
    failing = [c for c in claims if c["verdict"] == FAILED]
    lines += [f"- `{c['id']}`: {c['note']}" for c in failing] or ["None."]
    lines += ["", "## Not checkable at this scale", ""]
    unchecked = [c for c in claims if c["verdict"] == UNCHECKABLE]
    lines += [f"- `{c['id']}`: {c['note']}" for c in unchecked] or ["None: every claim was checked."]
    lines += ["", "## Tolerances", ""]
    seen = {}
    for c in claims:
        if c["tolerance_reason"]:
            seen.setdefault(c["tolerance_reason"], []).append(c["id"])
    lines += [f"- {', '.join(f'`{i}`' for i in ids)}: {reason}" for reason, ids in seen.items()]
    lines += ["", "## Deviations from the authors' code", "", *_md_table(deviations, MD_DEVIATION_COLUMNS), ""]
    return "\n".join(lines)


_CSS = (
    "<style>body{font-family:sans-serif;font-size:13px}table{border-collapse:collapse}"
    "td,th{border:1px solid #bbb;padding:3px 6px;vertical-align:top;text-align:left}th{background:#eee}"
    ".reproduced{background:#d7f5d7}.not-reproduced{background:#f8d0d0}.not-checkable{background:#eee}</style>"
)


def _html_table(rows: list[dict], columns, verdict_col: str | None = None) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for r in rows:
        cls = ""
        if verdict_col:
            cls = {REPRODUCED: "reproduced", FAILED: "not-reproduced"}.get(r[verdict_col], "not-checkable")
        cells = "".join(f"<td>{html.escape(str(r[c]))}</td>" for c in columns)
        body.append(f'<tr class="{cls}">{cells}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def verdict_html(claims: list[dict]) -> str:
    """The verdict paragraph (between markers: the report's first page copies it from claims.html)."""
    s = summary(claims)
    fails = "".join(
        f"<li><b>{html.escape(c['id'])}</b>{' (sanity check)' if kind_of(c) == SANITY else ''}: "
        f"{html.escape(c['note'])}</li>"
        for c in claims
        if c["verdict"] == FAILED
    )
    return (
        f"<!-- verdict:start --><p><b>{html.escape(s['text'])}.</b></p>"
        + (f"<p>Not reproduced:</p><ul>{fails}</ul>" if fails else "")
        + "<!-- verdict:end -->"
    )


def claims_html(claims: list[dict], settings: Mapping) -> str:
    """The report's claims page: the verdict, the settings and every claim coloured by its verdict (the claims,
    then the sanity checks and the reported rows)."""
    # the verdict next to the id (read in a minute); the long reasons last
    first = ("id", "verdict", "statement", "paper_value", "reproduced", "spread", "tolerance", "false_alarm", "note")
    columns = (*first, *(c for c in CLAIM_TEXT_COLUMNS if c not in first))
    parts = []
    for kind, title in ((CLAIM, "The paper's claims"), (SANITY, "Sanity checks (outside the count)"),
                        (REPORTED, "Reported without a verdict")):  # fmt: skip
        rows = [c for c in claims if kind_of(c) == kind]
        if rows:
            parts.append(f"<h3>{title}</h3>{_html_table(rows, columns, 'verdict')}")
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Claims</title>{_CSS}</head><body>"
        f"<h2>Reproduction verdict: every claim</h2>{verdict_html(claims)}"
        f"<p>Settings: {html.escape(settings_line(settings))}</p>{''.join(parts)}</body></html>"
    )


def deviations_html(deviations: list[dict]) -> str:
    """The report's deviations page."""
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Deviations</title>{_CSS}</head><body>"
        "<h2>Deviations from the authors' code, with their measured effect on this run</h2>"
        f"{_html_table(deviations, tuple(DEVIATION_COLUMNS))}</body></html>"
    )
