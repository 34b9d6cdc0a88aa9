"""Figure 4a (context_sweep): its claims, αβ and the MSE of linear attention against the finite-L theory."""

from __future__ import annotations

from ..verdict import Claim, Scale, Stats, fmt, not_checkable, seed_spread

#: The tables these claims read (of the context_sweep study).
TABLES = ("context_sweep", "context_sweep_theory")


def claims(tables, settings, scale: Scale, tol) -> list[Claim]:
    """§3.2, Fig. 4(a): αβ of linear attention approaches γ*(L), its MSE the finite-L optimum, as L grows."""
    out = []
    cs, th = tables.get("context_sweep"), tables.get("context_sweep_theory")
    u = not_checkable(scale.fig4a())
    lin = cs[cs["model"] == "linear"] if cs is not None else None
    c1 = Claim(
        "fig4a_alphabeta_gamma_star",
        "§3.2, Fig. 4(a)",
        "As the training context length L grows, αβ of linear attention approaches the finite-L optimum "
        "γ*(L) = L/((σ0²+σZ²)(L+d+1)) (→ 1/3): checked at the largest L",
        "Figure 4a; context_sweep.parquet (alpha_beta), context_sweep_theory.parquet (gamma_star)",
    )
    c2 = Claim(
        "fig4a_mse_approaches_bound",
        "§3.2, Fig. 4(a)",
        "'This bound is approached as the context length L is increased': the fresh-prompt MSE at the largest L is "
        "near the finite-L optimum MSE(L) and below the MSE at the smallest L",
        "Figure 4a; context_sweep.parquet (fresh_mse), context_sweep_theory.parquet (finite_L_mse)",
    )
    if lin is None or lin.empty or th is None:
        out += [c1.decide(False, "", "no linear context sweep in this run"), c2.decide(False, "", "no context sweep")]
    else:
        Lmax, Lmin = int(lin["L"].max()), int(lin["L"].min())
        top = lin[lin["L"] == Lmax]
        g = float(th.loc[th["L"] == Lmax, "gamma_star"].iloc[0])
        st = Stats(top["alpha_beta"])
        c1.update(paper_value=f"γ*({Lmax}) = {fmt(g)}", paper_value_num=g)
        c1.measured(st, seed_spread(st), f"{fmt(st.mean)} at L = {Lmax}")
        k = float(tol["k_seed"]["value"])
        c1.tol(f"± {fmt(k * st.se, 2)} ({fmt(k, 2)} SE)", k * st.se, tol["k_seed"]["reason"])
        gap = abs(st.mean - g)
        out.append(
            c1.decide(
                bool(gap <= k * st.se),
                f"|{fmt(st.mean)} − γ* {fmt(g)}| = {fmt(gap, 2)} > {fmt(k * st.se, 2)} ({fmt(gap / st.se, 2)} SE)",
                u,
            )
        )
        col = "fresh_mse" if top["fresh_mse"].notna().all() else "test_mse"
        st = Stats(top[col])
        low = Stats(lin.loc[lin["L"] == Lmin, col])
        bound = float(th.loc[th["L"] == Lmax, "finite_L_mse"].iloc[0])
        r = float(tol["fig4a_excess"]["value"])
        c2.update(paper_value=f"MSE({Lmax}) = {fmt(bound)}", paper_value_num=bound)
        c2.measured(
            st,
            seed_spread(st),
            f"{fmt(st.mean)} at L = {Lmax} ({fmt(100 * (st.mean / bound - 1), 3)}% above); "
            f"{fmt(low.mean)} at L = {Lmin}",
        )
        c2.tol(f"≤ MSE({Lmax}) × {fmt(1 + r, 3)} = {fmt(bound * (1 + r))}", r, tol["fig4a_excess"]["reason"])
        out.append(
            c2.decide(
                bool(st.mean <= bound * (1 + r) and st.mean < low.mean),
                f"MSE {fmt(st.mean)} at L = {Lmax} against the bound {fmt(bound)} × {fmt(1 + r, 3)}, and "
                f"{fmt(low.mean)} at L = {Lmin}",
                u,
            )
        )
    return out
