"""Figure 5 (dam_energy): its claim, one step of Eq. 16 (the attention layer) beats iterating it (§4)."""

from __future__ import annotations

from ..verdict import Claim, Scale, Stats, fmt, not_checkable

#: The tables these claims read (of the dam_energy study).
TABLES = ("hopfield_trajectories",)


def claims(tables, settings, scale: Scale, tol) -> list[Claim]:
    """§4, Fig. 5: one gradient step of Eq. 16 with γ = α lands nearer the targets than 50 steps."""
    out = []
    tr = tables.get("hopfield_trajectories")
    c = Claim(
        "fig5_one_step_vs_many",
        "§4, Fig. 5",
        "One gradient step of Eq. 16 with γ = α (= the attention layer) lands nearer the targets than iterating "
        "50 steps, which 'can potentially degrade the estimate'",
        "Figure 5; hopfield_trajectories.parquet (dist_to_target)",
        paper_value="1 step nearer than 50",
    )
    if tr is None or tr.empty:
        out.append(c.decide(False, "", "no Figure 5 trajectories"))
    else:
        last = int(tr["step"].max())
        d1 = Stats(tr.loc[tr["step"] == 1, "dist_to_target"])
        dl = Stats(tr.loc[tr["step"] == last, "dist_to_target"])
        c.measured(
            Stats([d1.mean - dl.mean]),
            f"{d1.count} queries; start {fmt(float(tr.loc[tr['step'] == 0, 'dist_to_target'].mean()))}",
            f"mean distance {fmt(d1.mean)} after 1 step, {fmt(dl.mean)} after {last}",
        )
        c.tol("strict inequality of the means", 0.0, "an ordering the paper shows for its queries; no tolerance")
        c.no_alarm("deterministic: the paper's three queries, no sampling")
        out.append(
            c.decide(
                bool(d1.mean < dl.mean),
                f"after 1 step {fmt(d1.mean)} ≥ after {last} steps {fmt(dl.mean)}",
                not_checkable(scale.fig5()),
            )
        )
    return out
