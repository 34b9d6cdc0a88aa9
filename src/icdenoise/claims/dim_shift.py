"""Figure 4b (dim_shift): its claim, mild performance loss when the subspace dimension d shifts at inference."""

from __future__ import annotations

from ..verdict import Claim, Scale, Stats, at_most, fmt, not_checkable

#: The tables these claims read (of the dim_shift study).
TABLES = ("dim_shift", "dim_shift_oracles")


def claims(tables, settings, scale: Scale, tol) -> list[Claim]:
    """§3.2, Fig. 4(b): a model trained at d = 8 keeps MSE·n/d near Bayes at every inference-time d."""
    out = []
    ds, orc = tables.get("dim_shift"), tables.get("dim_shift_oracles")
    c = Claim(
        "fig4b_mild_loss",
        "§3.2, Fig. 4(b)",
        "A linear-attention model trained on d = 8 subspaces adapts 'with mild performance loss' to other d at "
        "inference: with the training context length, MSE·n/d stays near the Bayes value σ0²σZ²/(σ0²+σZ²) at every d",
        "Figure 4b; dim_shift.parquet, dim_shift_oracles.parquet",
    )
    sub = None
    if ds is not None and orc is not None:
        sub = ds[(ds["case"] == "subspace") & (ds["model_state"] == "trained") & (ds["L"] == ds["train_L"])]
    if sub is None or sub.empty:
        out.append(c.decide(False, "", "no subspace dimension shift in this run"))
        return out
    n = int(sub["n"].iloc[0])
    per_d = sub.groupby("eval_value")["mse"].mean()
    bayes = orc[(orc["case"] == "subspace") & (orc["estimator"] == "bayes")].set_index("eval_value")["mse"]
    excess = per_d / bayes.reindex(per_d.index) - 1
    worst_d = int(excess.idxmax())
    scaled = per_d * n / per_d.index.to_numpy()
    b_scaled = float((bayes * n / bayes.index.to_numpy()).iloc[0])
    r = float(tol["fig4b_excess"]["value"])
    c.update(paper_value=f"Bayes per dimension {fmt(b_scaled)}", paper_value_num=b_scaled)
    c.measured(
        Stats(scaled),
        f"MSE·n/d {fmt(scaled.min())}–{fmt(scaled.max())} over d = {int(per_d.index.min())}..{int(per_d.index.max())}",
        f"worst d = {worst_d}: {fmt(float(scaled[worst_d]))} ({fmt(100 * float(excess.max()), 3)}% above)",
    )
    out.append(
        at_most(
            c,
            float(excess.max()),
            r,
            f"≤ Bayes × {fmt(1 + r, 3)} at every d",
            tol["fig4b_excess"],
            not_checkable(scale.fig4b()),
            f"at d = {worst_d} MSE·n/d is {fmt(100 * float(excess.max()), 3)}% above Bayes (> {fmt(100 * r, 3)}%)",
        )
    )
    return out
