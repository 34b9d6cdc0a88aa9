"""Trained depth (depth, beyond the paper): its claims, each able to fail.

- ``depth_K1_reproduces_fig3_<case>_<family>``: K = 1 with λ = 0 (autograd) reproduces the Figure 3 run of every
  seed (same data and seeds, fused kernel): fresh MSEs within ``depth.tolerances.reproduce_rel`` of each other.
- ``depth_gain_<case>_<family>_K<K>_<tied|untied>``: the K-layer model beats one layer by more than k paired SE.
- ``depth_gmm_at_least_hopfield``: gmm softmax, the best trained K = 3 gain is not below the Hopfield three-step gain
  from the one-layer weights by more than k SE.
- ``depth_subspace_gain_shrinks_with_L``: subspace linear, the best gain (K ≥ 2) at the smallest L exceeds the one at
  the largest L by more than k SE.
- ``depth_tied_softmax_energy_descent_<case>``: the tied softmax model of the largest K has near-scaled-identity
  weights (``claims.tolerances.scaled_identity``) and 1 − λ within ``depth.tolerances.step`` of the Hopfield study's
  best γ/α at that K.
"""

from __future__ import annotations

import math

from ..verdict import Claim, Stats, fmt, own_not_checkable

#: The tables these claims read (of the depth study, opt-in).
TABLES = ("depth", "depth_runs", "depth_layers")

SRC = "trained depth (beyond the paper, §1, §4, App. G.2)"


def _diffs(scale, settings, case, family) -> list[str]:
    """What keeps a (case, family) of the depth study from a verdict: comparisons within this run's tables, checked at
    any task setting with the paper's training recipe and a seed spread (:meth:`icdenoise.verdict.Scale.own`)."""
    seeds = settings.get("depth", {}).get("seeds", [])
    return scale.own(case, family, list(seeds), "depth.seeds")


def _ratio(v, se) -> str:
    return fmt(v / se if se else math.inf, 2)


def claims(tables, settings, scale, tol) -> list[Claim]:
    """The depth study's findings (opt-in study: rows only when its tables are in this run)."""
    summ, runs, layers = (tables.get(t) for t in TABLES)
    if summ is None or summ.empty:
        return []
    k = float(tol["k_mc"]["value"])
    dtol = settings.get("depth", {}).get("tolerances", {})
    L0 = int(settings["L"])
    out = []
    if runs is not None:
        out += _reproduce(runs, L0, dtol, scale, settings)
    at = summ[summ["L"] == L0]
    for (case, family), g in at.groupby(["case", "family"], sort=False):
        diffs = own_not_checkable(_diffs(scale, settings, case, family))
        trained = g[(g["estimator"] == "trained") & (g["K"] > 1)].sort_values(["K", "tied"], ascending=[True, False])
        for r in trained.to_dict("records"):
            name = "tied" if r["tied"] else "untied"
            c = Claim(
                f"depth_gain_{case}_{family}_K{int(r['K'])}_{name}",
                SRC,
                f"{case}/{family}: a trained {int(r['K'])}-layer {name} model beats the one-layer model (the paper's, "
                f"λ = 0) on the same fresh prompts by more than k paired SE",
                "Depth figure (top row); depth.parquet (estimator trained: gain, gain_se)",
                paper_value="not in the paper (one layer only)",
            )
            c.measured(
                Stats([r["gain"]], se=r["gain_se"]),
                f"± {fmt(r['gain_se'], 2)} (seeds {fmt(r['gain_se_seeds'], 2)}, "
                f"prompts {fmt(r['gain_se_prompts'], 2)})",
                f"gain {fmt(r['gain'], 3)} ({fmt(100 * r['gain'] / r['bayes_mse'], 2)}% of Bayes); MSE / Bayes "
                f"{fmt(r['mse_over_bayes'])}",
            )
            c.tol(f"gain > {fmt(k, 2)} SE", k, tol["k_mc"]["reason"])
            out.append(
                c.decide(
                    bool(r["gain"] > k * r["gain_se"]),
                    f"gain {fmt(r['gain'], 3)} ± {fmt(r['gain_se'], 2)} ({_ratio(r['gain'], r['gain_se'])} SE)",
                    diffs,
                )
            )
    out += _gmm_hopfield(at, k, tol, scale, settings)
    out += _shrinks_with_L(summ, k, tol, scale, settings)
    if layers is not None:
        out += _energy_descent(at, layers, L0, dtol, tol, scale, settings)
    return out


def _reproduce(runs, L0, dtol, scale, settings) -> list[Claim]:
    out = []
    ref = runs[(runs["K"] == 1) & ~runs["residual"] & (runs["L"] == L0)]
    t = dtol.get("reproduce_rel", {"value": math.nan, "reason": "no depth.tolerances.reproduce_rel"})
    for (case, family), g in ref.groupby(["case", "family"], sort=False):
        rel = (g["fresh_mse"] - g["fig3_fresh_mse"]).abs() / g["fig3_fresh_mse"]
        c = Claim(
            f"depth_K1_reproduces_fig3_{case}_{family}",
            SRC,
            f"{case}/{family}: the depth model with K = 1 and λ held at 0 (autograd, torch path) reproduces the "
            "Figure 3 run of every seed (same data and seeds; the paper's model on its own kernel)",
            "depth_runs.parquet (K = 1, residual false: fresh_mse against fig3_fresh_mse, fig3_weight_diff)",
            paper_value="the paper's model (Eq. 11 / 12)",
        )
        c.measured(
            Stats(rel.to_numpy()),
            f"largest |ΔW| {fmt(float(g['fig3_weight_diff'].max()), 2)}; test MSE {fmt(float(g['test_mse'].mean()))} "
            f"against Figure 3's {fmt(float(g['fig3_test_mse'].mean()))}",
            f"largest relative fresh-MSE difference {fmt(float(rel.max()), 2)} over {len(g)} seeds",
        )
        c.tol(f"≤ {fmt(float(t['value']), 2)} relative", float(t["value"]), t["reason"])
        out.append(
            c.decide(
                bool(rel.max() <= float(t["value"])),
                f"relative difference {fmt(float(rel.max()), 2)} > {fmt(float(t['value']), 2)}",
                own_not_checkable(
                    [d for d in _diffs(scale, settings, case, family) if not d.startswith("depth.seeds")]
                ),
            )
        )
    return out


def _gmm_hopfield(at, k, tol, scale, settings) -> list[Claim]:
    g = at[(at["case"] == "gmm") & (at["family"] == "softmax")]
    tr, hop = g[(g["estimator"] == "trained") & (g["K"] == 3)], g[(g["estimator"] == "hopfield") & (g["K"] == 3)]
    if tr.empty or hop.empty:
        return []
    best, h = tr.loc[tr["gain"].idxmax()], hop.iloc[0]
    d, se = float(best["gain"] - h["gain"]), math.hypot(best["gain_se"], h["gain_se"])
    c = Claim(
        "depth_gmm_at_least_hopfield",
        SRC,
        "gmm/softmax: trained depth (K = 3, the better of tied and untied) gains at least what three steps of Eq. 16 "
        "from the trained one-layer weights gain (best γ/α; this project's Hopfield finding), within k SE",
        "Depth figure (gmm panel); depth.parquet (trained and hopfield rows at K = 3: gain, gain_se)",
        paper_value="not in the paper; Hopfield study: 3 steps at γ = α/2 beat one by 0.00083 ± 0.00012",
    )
    c.measured(
        Stats([d], se=se),
        f"± {fmt(se, 2)} (the two SEs in quadrature)",
        f"trained ({'tied' if best['tied'] else 'untied'}) gain {fmt(best['gain'], 3)} ± {fmt(best['gain_se'], 2)} "
        f"against Hopfield (γ/α = {fmt(h['gamma_over_alpha'], 2)}) {fmt(h['gain'], 3)} ± {fmt(h['gain_se'], 2)}",
    )
    c.tol(f"difference > −{fmt(k, 2)} SE", k, tol["k_mc"]["reason"])
    return [
        c.decide(
            bool(d > -k * se),
            f"trained − Hopfield = {fmt(d, 3)} ± {fmt(se, 2)} ({_ratio(d, se)} SE)",
            own_not_checkable(_diffs(scale, settings, "gmm", "softmax")),
        )
    ]


def _shrinks_with_L(summ, k, tol, scale, settings) -> list[Claim]:
    g = summ[(summ["case"] == "subspace") & (summ["family"] == "linear") & (summ["estimator"] == "trained")]
    g = g[g["K"] > 1]
    Ls = sorted(set(g["L"]))
    if len(Ls) < 2:
        return []
    lo, hi = (g[g["L"] == L] for L in (Ls[0], Ls[-1]))
    b_lo, b_hi = lo.loc[lo["gain"].idxmax()], hi.loc[hi["gain"].idxmax()]
    d, se = float(b_lo["gain"] - b_hi["gain"]), math.hypot(b_lo["gain_se"], b_hi["gain_se"])
    by_L = ", ".join(f"L = {L}: {fmt(float(g.loc[g['L'] == L, 'gain'].max()), 3)}" for L in Ls)
    c = Claim(
        "depth_subspace_gain_shrinks_with_L",
        SRC,
        f"subspace/linear: the best depth gain (K ≥ 2) shrinks as the context grows from L = {Ls[0]} to L = {Ls[-1]} "
        "(a higher-degree polynomial of S filters the sample spectrum; at large L one layer is near γ*(L))",
        "Depth figure (bottom left); depth.parquet (subspace, linear, trained rows per L)",
        paper_value="not in the paper",
    )
    c.measured(Stats([d], se=se), f"± {fmt(se, 2)}", f"best gain per L: {by_L}")
    c.tol(f"drop > {fmt(k, 2)} SE", k, tol["k_mc"]["reason"])
    diffs = own_not_checkable(_diffs(scale, settings, "subspace", "linear"))
    return [c.decide(bool(d > k * se), f"drop {fmt(d, 3)} ± {fmt(se, 2)} ({_ratio(d, se)} SE)", diffs)]


def _energy_descent(at, layers, L0, dtol, tol, scale, settings) -> list[Claim]:
    out = []
    b = float(tol["scaled_identity"]["value"])
    t = dtol.get("step", {"value": math.nan, "reason": "no depth.tolerances.step"})
    tl = layers[(layers["family"] == "softmax") & layers["tied"] & layers["residual"] & (layers["L"] == L0)]
    tl = tl[tl["K"] > 1]
    for case, g in tl.groupby("case", sort=False):
        K = int(g["K"].max())
        g = g[g["K"] == K]
        hop = at[(at["case"] == case) & (at["family"] == "softmax") & (at["estimator"] == "hopfield") & (at["K"] == K)]
        if hop.empty:
            continue
        g_hop = float(hop["gamma_over_alpha"].iloc[0])
        step = Stats(g["gamma_over_alpha"].to_numpy())
        dist = max(float(g["dist_KQ"].mean()), float(g["dist_PV"].mean()))
        c = Claim(
            f"depth_tied_softmax_energy_descent_{case}",
            SRC,
            f"{case}: the tied softmax model (K = {K}) learns energy descent: near-scaled-identity W_KQ, W_PV and "
            "1 − λ near the Hopfield study's best γ/α at that K (λ = 1 − γ/α, Eq. 16)",
            "Depth figure (bottom right); depth_layers.parquet (tied softmax: dist_KQ, dist_PV, gamma_over_alpha)",
            paper_value="Eq. 16: λ = 1 − γ/α",
        )
        c.measured(
            step,
            f"seeds {fmt(step.min, 3)}–{fmt(step.max, 3)}",
            f"1 − λ = {fmt(step.mean, 3)} against Hopfield γ/α = {fmt(g_hop, 2)}; distances from scaled identities "
            f"KQ {fmt(float(g['dist_KQ'].mean()), 3)}, PV {fmt(float(g['dist_PV'].mean()), 3)}; α "
            f"{fmt(float(g['alpha'].mean()), 3)}, β {fmt(float(g['beta'].mean()), 3)}",
        )
        c.tol(f"|1 − λ − γ/α| ≤ {fmt(float(t['value']), 2)}, distances ≤ {fmt(b, 2)}", float(t["value"]), t["reason"])
        gap = abs(step.mean - g_hop)
        why = []
        if not gap <= float(t["value"]):
            why.append(f"|1 − λ − γ/α| = {fmt(gap, 2)}")
        if not dist <= b:
            why.append(f"distance from a scaled identity {fmt(dist, 3)} > {fmt(b, 2)}")
        out.append(c.decide(not why, "; ".join(why), own_not_checkable(_diffs(scale, settings, case, "softmax"))))
    return out
