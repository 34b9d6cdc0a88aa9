"""Figure 6 (alpha_beta_landscape): its claims, the trained softmax weights in the valley of the α–β landscape.

A valley claim tests position, not only MSE: the landscape looked up at the trained (|α|, |β|) (bilinear on the
grid) and the trained weights' own MSE are both within ``claims.tolerances.valley`` of the landscape's minimum.
Where the paper says the trained and heuristic points differ (gmm, §3.4) the claim also tests that the heuristic
lies outside that valley; where it says they share a broad valley (sphere, Fig. 6 caption) the row shows that
valley's width (the 5% band) and where the heuristic sits.

The landscape is computed at this run's own settings, so the claims are checked at any task setting with the paper's
training recipe and a seed spread (:meth:`icdenoise.verdict.Scale.own`); a trained point outside the landscape's grid
(``alpha_beta_landscape.ranges``) is not checkable.
"""

from __future__ import annotations

import math

import numpy as np

from ..verdict import Claim, Scale, Stats, fmt, own_not_checkable

#: The tables these claims read (of the alpha_beta_landscape study).
TABLES = ("landscape_points", "landscape")

#: The band of the broad valley the rows show (not a tolerance: shown, never tested).
BROAD = 0.05


def landscape_at(grid, alpha: float, beta: float) -> float:
    """The landscape MSE at (α, β), bilinear between the grid's points (NaN outside the grid)."""
    from scipy.interpolate import RegularGridInterpolator

    a, b = np.sort(grid["alpha"].unique()), np.sort(grid["beta"].unique())
    table = grid.pivot_table(index="alpha", columns="beta", values="mse").reindex(index=a, columns=b).to_numpy()
    f = RegularGridInterpolator((a, b), table, bounds_error=False, fill_value=math.nan)
    return float(f([[abs(alpha), abs(beta)]])[0])


def band(grid, level: float) -> dict:
    """The grid points within ``level`` of the grid minimum: their α and β ranges and share of the grid."""
    inside = grid[grid["mse"] <= grid["mse"].min() * (1 + level)]
    return dict(
        alpha=(float(inside["alpha"].min()), float(inside["alpha"].max())),
        beta=(float(inside["beta"].min()), float(inside["beta"].max())),
        share=len(inside) / len(grid),
    )


def claims(tables, settings, scale: Scale, tol) -> list[Claim]:
    """§3.3-3.4, Fig. 6: the trained sphere and mixture weights lie in the valley of the α–β landscape."""
    out = []
    lp, land = tables.get("landscape_points"), tables.get("landscape")
    r = float(tol["valley"]["value"])
    for cid, case, source, heuristic, differ in (
        ("case2_valley", "sphere", "§3.3, Fig. 6(a)", "heuristic", False),
        ("case3_valley", "gmm", "§3.4, Fig. 6(b)", "heuristic_prop4", True),
    ):
        tail = (
            "; the heuristic point (Prop. 4) lies outside that valley: the trained and heuristic points differ (§3.4)"
            if differ
            else "; the heuristic (α = 1, β = 1/σZ²) shares a broad valley with it (Fig. 6 caption), shown, not tested"
        )
        c = Claim(
            cid,
            source,
            f"The trained {case} softmax weights lie in the valley of the α–β MSE landscape: at the seed-mean "
            f"(|α|, |β|) the landscape (its position) and the trained weights' MSE are both near the minimum" + tail,
            "Figure 6; landscape.parquet (the grid), landscape_points.parquet (trained_mean, grid_min, valley_min, "
            "heuristic)",
            paper_value="in the valley" + ("; heuristic apart" if differ else "; broad valley with the heuristic"),
        )
        sub = lp[lp["case"] == case] if lp is not None else None
        grid = land[land["case"] == case] if land is not None else None
        trained = sub[sub["kind"] == "trained_mean"] if sub is not None else None
        minima = sub[sub["kind"].isin(["grid_min", "valley_min"])] if sub is not None else None
        if trained is None or trained.empty or minima.empty or grid is None or grid.empty:
            out.append(c.decide(False, "", f"no {case} landscape in this run"))
            continue
        t = trained.iloc[0]
        m = float(minima["mse"].min())
        at = landscape_at(grid, float(t["alpha"]), float(t["beta"]))
        own = float(t["mse"])
        h = sub[sub["point"] == heuristic]
        h_mse = float(h["mse"].iloc[0]) if len(h) else math.nan
        wide, tight = band(grid, BROAD), band(grid, r)
        c.measured(
            Stats([own]),
            f"minimum {fmt(m)}; {fmt(100 * r, 2)}% valley β {fmt(tight['beta'][0], 3)}–{fmt(tight['beta'][1], 3)}, "
            f"α {fmt(tight['alpha'][0], 3)}–{fmt(tight['alpha'][1], 3)}; broad {fmt(100 * BROAD, 2)}% valley β "
            f"{fmt(wide['beta'][0], 3)}–{fmt(wide['beta'][1], 3)}, α {fmt(wide['alpha'][0], 3)}–"
            f"{fmt(wide['alpha'][1], 3)} ({fmt(100 * wide['share'], 2)}% of the grid)",
            f"(|α|, |β|) = ({fmt(float(t['alpha']), 3)}, {fmt(float(t['beta']), 3)}): landscape there "
            f"{fmt(100 * (at / m - 1), 2)}% above the minimum, own MSE {fmt(100 * (own / m - 1), 2)}%; heuristic "
            f"{fmt(100 * (h_mse / m - 1), 2)}%",
        )
        c.tol(f"≤ minimum × {fmt(1 + r, 3)} = {fmt(m * (1 + r))}", r, tol["valley"]["reason"])
        c.no_alarm("a stated margin (the landscape's minimum is a grid minimum)")
        why = []
        if not at <= m * (1 + r):
            why.append(f"the landscape at the trained point is {fmt(100 * (at / m - 1), 2)}% above the minimum")
        if not own <= m * (1 + r):
            why.append(f"the trained weights' MSE {fmt(own)} is {fmt(100 * (own / m - 1), 2)}% above the minimum")
        if differ and not h_mse > m * (1 + r):
            why.append(f"the heuristic point ({fmt(100 * (h_mse / m - 1), 2)}% above) is inside the valley too")
        u = own_not_checkable(scale.own(case, "softmax"))
        if not u and not math.isfinite(at):
            u = f"the trained point lies outside the landscape's grid (alpha_beta_landscape.ranges.{case})"
        out.append(c.decide(not why, "; ".join(why) + f" (> {fmt(100 * r, 2)}%)", u))
    return out
