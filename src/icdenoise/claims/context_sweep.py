"""Figure 4a (context_sweep): its claims, αβ and the MSE of linear attention against the finite-L theory.

Both references (γ*(L), the finite-L optimum MSE) follow from theory at this run's settings: checked at any task
setting and any swept L, with the paper's training recipe and a seed spread (:meth:`icdenoise.verdict.Scale.own`).
"""

from __future__ import annotations

import math

import numpy as np

from ..verdict import Claim, Scale, Stats, above_bound, fmt, own_not_checkable, seed_k, seed_spread, t_k

#: The tables these claims read (of the context_sweep study).
TABLES = ("context_sweep", "context_sweep_theory")


def pooled_se(groups) -> tuple[float, int]:
    """The seed SE of each group's mean from the seed variance pooled over the groups, and its degrees of freedom."""
    dof = sum(len(g) - 1 for g in groups)
    if dof < 1:
        return math.nan, 0
    ss = sum(float(((g - g.mean()) ** 2).sum()) for g in groups)
    n = np.mean([len(g) for g in groups])
    return math.sqrt(ss / dof / n), dof


def sweep_differences(settings, scale: Scale) -> list[str]:
    """What keeps Figure 4a's own-settings claims from a verdict: no linear sweep, the recipe, too few seeds."""
    cs = settings["context_sweep"]
    if "linear" not in cs.get("models", []):
        return ["context_sweep.models has no linear"]
    return scale.recipe("subspace") + scale.own_seeds(cs["seeds"], "context_sweep.seeds")


def claims(tables, settings, scale: Scale, tol) -> list[Claim]:
    """§3.2, Fig. 4(a): αβ of linear attention follows γ*(L) at every L (and, at small L, is told apart from
    1/(σ0²+σZ²)); its MSE approaches the finite-L optimum, never below it."""
    out = []
    cs, th = tables.get("context_sweep"), tables.get("context_sweep_theory")
    u = own_not_checkable(sweep_differences(settings, scale))
    lin = cs[cs["model"] == "linear"] if cs is not None else None
    c1 = Claim(
        "fig4a_alphabeta_gamma_star",
        "§3.2, Fig. 4(a)",
        "αβ of linear attention follows the finite-L optimum γ*(L) = L/((σ0²+σZ²)(L+d+1)) at every training "
        "context length L, and at the smallest L it is told apart from the L → ∞ value 1/(σ0²+σZ²)",
        "Figure 4a; context_sweep.parquet (alpha_beta), context_sweep_theory.parquet (gamma_star)",
    )
    c2 = Claim(
        "fig4a_mse_approaches_bound",
        "§3.2, Fig. 4(a)",
        "'This bound is approached as the context length L is increased': the fresh-prompt MSE at the largest L is "
        "at or above the finite-L optimum MSE(L) (never below it in expectation) and near it, and below the MSE at "
        "the smallest L",
        "Figure 4a; context_sweep.parquet (fresh_mse), context_sweep_theory.parquet (finite_L_mse)",
    )
    if lin is None or lin.empty or th is None:
        return [c1.decide(False, "", "no linear context sweep in this run"), c2.decide(False, "", "no context sweep")]
    Ls = sorted(int(x) for x in lin["L"].unique())
    Lmax, Lmin = Ls[-1], Ls[0]
    groups = [lin.loc[lin["L"] == L, "alpha_beta"].to_numpy(float) for L in Ls]
    se, dof = pooled_se(groups)
    gamma = {L: float(th.loc[th["L"] == L, "gamma_star"].iloc[0]) for L in Ls}
    cfg = settings["cases"].get("subspace", {})
    limit = 1.0 / (float(cfg.get("sigma0_2", math.nan)) + float(cfg.get("sigma_z2", math.nan)))
    rate, rel = tol["seed_rate"], float(tol["fig4a_gamma_rel"]["value"])
    k = t_k(float(rate["value"]), dof, 2, family=len(Ls))
    worst, bad = 0.0, []
    for L, g in zip(Ls, groups, strict=True):
        width = k * se + rel * gamma[L]
        gap = abs(g.mean() - gamma[L])
        worst = max(worst, gap / width)
        if gap > width:
            bad.append(f"L = {L}: {fmt(g.mean())} vs γ* {fmt(gamma[L])} (|Δ| {fmt(gap, 2)} > {fmt(width, 2)})")
    low = groups[0].mean()
    apart = abs(low - limit) - (k * se + rel * gamma[Lmin])
    if not apart > 0:
        bad.append(f"at L = {Lmin} αβ {fmt(low)} is not told apart from 1/(σ0²+σZ²) = {fmt(limit)}")
    st = Stats(groups[-1])
    st.se = se
    c1.update(paper_value=f"γ*(L): γ*({Lmin}) = {fmt(gamma[Lmin])}, γ*({Lmax}) = {fmt(gamma[Lmax])}")
    c1.update(paper_value_num=gamma[Lmax])
    c1.measured(
        st,
        f"{len(Ls)} L, {len(groups[0])} seeds each; pooled seed SE {fmt(se, 2)} ({dof} df)",
        f"{fmt(low)} at L = {Lmin} (γ* {fmt(gamma[Lmin])}, 1/(σ0²+σZ²) = {fmt(limit)}); {fmt(st.mean)} at "
        f"L = {Lmax} (γ* {fmt(gamma[Lmax])}); worst L at {fmt(worst, 2)} of its band",
    )
    c1.tol(
        f"± ({fmt(k, 3)} SE + {fmt(100 * rel, 2)}% of γ*(L)) at every L",
        rel,
        f"{tol['fig4a_gamma_rel']['reason']}; {rate['reason']}",
    )
    c1.alarm(k, dof, 2, family=len(Ls), extra=", at most: the 5% margin lowers it", pooled=True)
    out.append(c1.decide(not bad, "; ".join(bad), u))

    top = lin[lin["L"] == Lmax]
    col = "fresh_mse" if top["fresh_mse"].notna().all() else "test_mse"
    st = Stats(top[col])
    low_mse = Stats(lin.loc[lin["L"] == Lmin, col])
    bound = float(th.loc[th["L"] == Lmax, "finite_L_mse"].iloc[0])
    r = float(tol["fig4a_excess"]["value"])
    c2.update(paper_value=f"MSE({Lmax}) = {fmt(bound)}", paper_value_num=bound)
    c2.measured(
        st,
        seed_spread(st),
        f"{fmt(st.mean)} at L = {Lmax} ({fmt(100 * (st.mean / bound - 1), 3)}% above); "
        f"{fmt(low_mse.mean)} at L = {Lmin}",
    )
    if low_mse.mean <= st.mean:
        c2.tol("", r, tol["fig4a_excess"]["reason"])
        c2.alarm(seed_k(rate, st.count, sides=1), st.count - 1, sides=1)
        return [*out, c2.decide(False, f"MSE {fmt(st.mean)} at L = {Lmax} ≥ {fmt(low_mse.mean)} at L = {Lmin}", u)]
    out.append(
        above_bound(
            c2, st, bound, bound * (1 + r), f"MSE({Lmax}) × {fmt(1 + r, 3)} = {fmt(bound * (1 + r))}", rate,
            tol["fig4a_excess"], u, f"MSE at L = {Lmax}",
        )
    )  # fmt: skip
    return out
