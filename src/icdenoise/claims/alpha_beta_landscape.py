"""Figure 6 (alpha_beta_landscape): its claims, the trained softmax weights in the valley of the α–β landscape."""

from __future__ import annotations

from ..verdict import Claim, Scale, Stats, at_most, fmt, not_checkable

#: The tables these claims read (of the alpha_beta_landscape study).
TABLES = ("landscape_points",)


def claims(tables, settings, scale: Scale, tol) -> list[Claim]:
    """§3.3-3.4, Fig. 6: the trained sphere and mixture weights lie in the valley of the α–β landscape."""
    out = []
    lp = tables.get("landscape_points")
    for cid, case, source in (
        ("case2_valley", "sphere", "§3.3, Fig. 6(a)"),
        ("case3_valley", "gmm", "§3.4, Fig. 6"),
    ):
        c = Claim(
            cid,
            source,
            f"The trained {case} softmax weights lie in the (anticipated) valley of the α–β MSE landscape: the seed-"
            "mean scaled identity (|α|, |β|) has an MSE close to the landscape's minimum on the same prompts",
            "Figure 6; landscape_points.parquet (trained_mean, grid_min, valley_min)",
            paper_value="in the valley",
        )
        sub = lp[lp["case"] == case] if lp is not None else None
        trained = sub[sub["kind"] == "trained_mean"] if sub is not None else None
        minima = sub[sub["kind"].isin(["grid_min", "valley_min"])] if sub is not None else None
        if trained is None or trained.empty or minima.empty:
            out.append(c.decide(False, "", f"no {case} landscape in this run"))
            continue
        t, m = float(trained["mse"].iloc[0]), float(minima["mse"].min())
        r = float(tol["valley"]["value"])
        c.measured(
            Stats([t]), f"landscape minimum {fmt(m)}", f"{fmt(t)} ({fmt(100 * (t / m - 1), 3)}% above the minimum)"
        )
        out.append(
            at_most(
                c,
                t,
                m * (1 + r),
                f"≤ minimum × {fmt(1 + r, 3)} = {fmt(m * (1 + r))}",
                tol["valley"],
                not_checkable(scale.fig3(case, "softmax")),
                f"trained-weights MSE {fmt(t)} > {fmt(m * (1 + r))} = minimum × {fmt(1 + r, 3)}",
            )
        )
    return out
