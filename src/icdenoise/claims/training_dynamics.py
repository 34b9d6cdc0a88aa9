"""Figure 3 (training_dynamics): its claims, from the trained weights and the oracles' MSEs (§3.2-3.4, Props. 2-4).

Two kinds (:class:`icdenoise.verdict.Scale`): a claim quoting a number of the paper (α, β of softmax, the sphere and
mixture oracles' MSEs) is checked only at the paper's settings; every other one has its reference from theory at
this run's settings (γ*(L), the Bayes MSE, 1/(σ0²+σZ²)) or from this run's own tables, and is checked at any task
setting with the paper's training recipe and a seed spread.

Also the readers of those two tables (trained runs, oracles on fresh prompts, closed forms) that the deviations
reuse.
"""

from __future__ import annotations

import math

import numpy as np

from ..bayes import linear_attention_gamma_star
from ..verdict import (
    REPORTED,
    SANITY,
    Claim,
    Scale,
    Stats,
    above_bound,
    against_paper,
    against_theory,
    at_most,
    fmt,
    half_unit,
    mc_spread,
    not_checkable,
    own_not_checkable,
    seed_k,
    seed_spread,
    stats_of,
)

#: The tables these claims read (of the training_dynamics study).
TABLES = ("trained_weights", "baselines")

FIG3 = "Figure 3; trained_weights.parquet"


def claims(tables, settings, scale: Scale, tol) -> list[Claim]:
    """Figure 3's claims: the trained weights and MSEs, then every oracle against its closed form."""
    return figure3_claims(tables, settings, scale, tol) + oracle_claims(tables, scale, tol)


def trained_runs(tables, case: str, model: str):
    """The trained runs of (case, model) in trained_weights.parquet, by seed (None without the table)."""
    tw = tables.get("trained_weights")
    if tw is None:
        return tw
    return tw[(tw["case"] == case) & (tw["model"] == model)].sort_values("seed")


def fresh_oracle(tables, case: str, estimator: str) -> Stats:
    """An oracle's MSE on fresh prompts, pooled over the data seeds (Monte Carlo mean ± SE)."""
    b = tables.get("baselines")
    sub = b[(b["case"] == case) & (b["estimator"] == estimator) & (b["split"] == "fresh")] if b is not None else None
    if sub is None or sub.empty:
        return Stats([])
    return Stats.pooled(sub["mse"], sub["mse_se"], sub["num_prompts"])


def fresh_delta(tables, case: str, estimator: str) -> Stats:
    """The paired difference estimator − Bayes on the same fresh prompts, pooled over the data seeds."""
    b = tables.get("baselines")
    sub = b[(b["case"] == case) & (b["estimator"] == estimator) & (b["split"] == "fresh")] if b is not None else None
    if sub is None or sub.empty or "delta_vs_bayes" not in sub:
        return Stats([])
    return Stats.pooled(sub["delta_vs_bayes"], sub["delta_vs_bayes_se"], sub["num_prompts"])


def theory_oracle(tables, case: str, estimator: str) -> float:
    """An oracle's closed-form MSE (the baselines' theory row; NaN without one)."""
    b = tables.get("baselines")
    sub = b[(b["case"] == case) & (b["estimator"] == estimator) & (b["split"] == "theory")] if b is not None else None
    return float(sub["mse"].iloc[0]) if sub is not None and not sub.empty else math.nan


def figure3_claims(tables, settings, scale: Scale, tol) -> list[Claim]:
    """§3.2-3.4: the trained weights of the three cases against the paper's values, and their MSEs against Bayes."""
    out = []
    lin, soft = trained_runs(tables, "subspace", "linear"), trained_runs(tables, "subspace", "softmax")
    u_lin, u_soft = not_checkable(scale.fig3("subspace", "linear")), not_checkable(scale.fig3("subspace", "softmax"))
    o_lin = own_not_checkable(scale.own("subspace", "linear"))
    o_soft = own_not_checkable(scale.own("subspace", "softmax"))

    st = stats_of(lin, "alpha_beta")
    band = scale.own_band(tol["seed_rate"], st.count)
    sub = settings["cases"].get("subspace")
    if sub is None or scale.is_paper_task("subspace"):
        c = Claim(
            "case1_linear_alphabeta",
            "§3.2, Fig. 3 (case 1, linear)",
            "Linear attention on linear subspaces trains to ⟨w_KQ⟩⟨w_PV⟩ = 0.327 ≈ 1/3 (the product αβ of the mean "
            "diagonals; only the product is fixed)",
            FIG3 + " (alpha_beta)",
        )
        out.append(against_paper(c.measured(st, seed_spread(st)), st, "0.327", band, o_lin))
    else:
        L = int(settings["L"])
        gamma = linear_attention_gamma_star(L, sub["d"], sub["sigma0_2"], sub["sigma_z2"])
        c = Claim(
            "case1_linear_alphabeta",
            "§3.2, Fig. 3 (case 1, linear)",
            "Linear attention on linear subspaces trains to ⟨w_KQ⟩⟨w_PV⟩ = γ*(L) = L/((σ0²+σZ²)(L+d+1)), the "
            f"finite-L optimum at this run's L = {L}, d = {sub['d']}, σ0² = {fmt(float(sub['sigma0_2']))}, σZ² = "
            f"{fmt(float(sub['sigma_z2']))} (the paper's 0.327 ≈ γ*(500) is at its L = 500, d = 8; only the product "
            "αβ of the mean diagonals is fixed)",
            FIG3 + " (alpha_beta)",
        )
        out.append(against_theory(c.measured(st, seed_spread(st)), st, gamma, f"γ*({L}) = {fmt(gamma)}", band, o_lin))

    bayes = theory_oracle(tables, "subspace", "bayes")
    st = stats_of(lin, "test_mse")
    c = Claim(
        "case1_linear_near_bayes",
        "§3.2, Fig. 3 (case 1, linear)",
        "The trained linear attention 'indeed achieves this bound': its test MSE is near the Bayes MSE "
        "(d/n)σ0²σZ²/(σ0²+σZ²) of Prop. 2",
        FIG3 + " (test_mse), baselines.parquet (theory)",
        paper_value=f"Bayes {fmt(bayes)}",
        paper_value_num=bayes,
    )
    r = float(tol["near_bayes_subspace"]["value"])
    c.measured(st, seed_spread(st), f"{fmt(st.mean)} ({fmt(100 * (st.mean / bayes - 1), 3)}% above Bayes)")
    out.append(
        above_bound(
            c, st, bayes, bayes * (1 + r), f"Bayes × {fmt(1 + r, 3)} = {fmt(bayes * (1 + r))}",
            scale.own_band(tol["seed_rate"], st.count), tol["near_bayes_subspace"], o_lin, "test MSE",
        )
    )  # fmt: skip

    sphere_soft = trained_runs(tables, "sphere", "softmax")
    o_sph = own_not_checkable(scale.own("sphere", "softmax"))
    for cid, runs, case_label, u, source in (
        ("case1_linear_scaled_identity", lin, "linear subspaces (linear)", o_lin, "§3.2, Fig. 3 (case 1, linear)"),
        ("case2_scaled_identity", sphere_soft, "spheres (softmax)", o_sph, "§3.3, Fig. 3 (case 2)"),
    ):
        d_kq, d_pv = stats_of(runs, "dist_KQ"), stats_of(runs, "dist_PV")
        worst = d_kq if d_kq.mean >= d_pv.mean or not np.isfinite(d_pv.mean) else d_pv
        c = Claim(
            cid,
            source,
            f"On {case_label} the trained W_KQ and W_PV are (nearly) scaled identities: "
            "‖W − mean-diag·I‖_F/‖W‖_F small for both",
            FIG3 + " (dist_KQ, dist_PV); Figure 3 heatmaps",
            paper_value="scaled identity",
        )
        c.measured(
            worst,
            f"dist_KQ seeds {fmt(d_kq.min, 3)}–{fmt(d_kq.max, 3)}, dist_PV seeds {fmt(d_pv.min, 3)}–{fmt(d_pv.max, 3)}",
            f"dist_KQ {fmt(d_kq.mean, 3)}, dist_PV {fmt(d_pv.mean, 3)} (seed means; worst seed "
            f"{fmt(max(d_kq.max, d_pv.max), 3)})",
        )
        c.no_alarm("a stated margin on the seed mean")
        b = float(tol["scaled_identity"]["value"])
        out.append(
            at_most(
                c,
                max(d_kq.mean, d_pv.mean),
                b,
                f"both ≤ {fmt(b, 3)}",
                tol["scaled_identity"],
                u,
                f"seed-mean distance {fmt(max(d_kq.mean, d_pv.mean), 3)} > {fmt(b, 3)}",
            )
        )

    for cid, col, paper, what in (
        ("case1_softmax_beta", "abs_beta", "0.194", "β_softmax ≈ 0.194 (small: the small-β limit of softmax)"),
        ("case1_softmax_alpha", "abs_alpha", "1.607", "α_softmax ≈ 1.607 (large, compensating the small β)"),
    ):
        st = stats_of(soft, col)
        c = Claim(
            cid,
            "§3.2, Fig. 3 (case 1, softmax)",
            f"Softmax attention on linear subspaces trains to {what}; |·| over seeds (sign symmetry)",
            FIG3 + f" ({col})",
        )
        out.append(against_paper(c.measured(st, seed_spread(st)), st, paper, tol["seed_rate"], u_soft))

    # "performs similarly to the linear one": the paper's recipe (trained test MSEs); the architecture's best scaled
    # identity is the gap study's (gap_split_subspace_softmax: optimisation and approximation parts)
    st_s, st_l = stats_of(soft, "test_mse"), stats_of(lin, "test_mse")
    rel = float(tol["similar_models"]["value"])
    ratio = st_s.mean / st_l.mean if st_l.count else math.nan
    c = Claim(
        "case1_softmax_similar",
        "§3.2, Fig. 3(a) (case 1)",
        "'The softmax network performs similarly to the linear one for this task': seed-mean test MSEs of the two "
        "models on linear subspaces, trained by the paper's recipe (the architecture's best scaled identity, fitted "
        "on other prompts, is in the gap study: gap_split_subspace_softmax)",
        FIG3 + " (test_mse); Figure 3(a)",
        paper_value="similar",
    )
    c.measured(
        Stats([ratio]) if np.isfinite(ratio) else Stats([]),
        f"softmax seeds {fmt(st_s.min)}–{fmt(st_s.max)}, linear seeds {fmt(st_l.min)}–{fmt(st_l.max)}",
        f"paper's recipe: softmax {fmt(st_s.mean)} vs linear {fmt(st_l.mean)} (ratio {fmt(ratio)})",
    )
    c.no_alarm("a stated margin on the ratio of seed means")
    out.append(
        at_most(
            c,
            abs(ratio - 1),
            rel,
            f"|ratio − 1| ≤ {fmt(rel, 3)}",
            tol["similar_models"],
            o_soft or o_lin,
            f"softmax/linear test MSE = {fmt(ratio)}: {fmt(100 * abs(ratio - 1), 3)}% apart > {fmt(100 * rel, 3)}% "
            "(the paper's recipe; the gap study splits the cause into optimisation and architecture: "
            "gap_split_subspace_softmax)",
        )
    )

    # ε = β_softmax / β_linear, paired by seed
    eps = Stats([])
    if soft is not None and lin is not None and not soft.empty and not lin.empty:
        m = soft.merge(lin, on="seed", suffixes=("_s", "_l"))
        eps = Stats(m["abs_beta_s"] / m["abs_beta_l"])
        ab = stats_of(lin, "alpha_beta")
        balanced = math.sqrt(abs(ab.mean)) if np.isfinite(ab.mean) else math.nan
    else:
        balanced = math.nan
    c = Claim(
        "case1_softmax_epsilon",
        "§3.2, Fig. 3(b) (case 1)",
        "β_softmax 'decreases by a factor ε ≈ 0.344 relative to β_linear'. Not identifiable from the loss: linear "
        "attention fixes only αβ, so β_linear (and ε) is set by the optimiser's path from the initialisation "
        f"(balanced |α| = |β| would give β_linear = √(αβ) ≈ {fmt(balanced, 3)}); the measured per-seed ratio and "
        "its spread are reported, without a verdict",
        FIG3 + " (abs_beta of both models, paired by seed)",
        kind=REPORTED,
        paper_value="0.344",
        paper_value_num=0.344,
    )
    c.measured(eps, seed_spread(eps)).no_alarm("no verdict: not identifiable")
    out.append(c.decide(True, "", u_soft or u_lin))

    # case 2
    sph = trained_runs(tables, "sphere", "softmax")
    bayes = fresh_oracle(tables, "sphere", "bayes")
    st = stats_of(sph, "test_mse")
    r = float(tol["near_bayes_sphere"]["value"])
    c = Claim(
        "case2_near_bayes",
        "§3.3, Fig. 3 (case 2)",
        "On spheres 'the network nearly achieves the optimal MSE on the test set' (Bayes, Prop. 3, by Monte Carlo)",
        FIG3 + " (test_mse), baselines.parquet (fresh)",
        paper_value=f"Bayes {fmt(bayes.mean)} ± {fmt(bayes.se, 2)}",
        paper_value_num=bayes.mean,
    )
    c.measured(st, seed_spread(st), f"{fmt(st.mean)} ({fmt(100 * (st.mean / bayes.mean - 1), 3)}% above Bayes)")
    out.append(
        above_bound(
            c, st, bayes.mean, bayes.mean * (1 + r), f"Bayes × {fmt(1 + r, 3)} = {fmt(bayes.mean * (1 + r))}",
            scale.own_band(tol["seed_rate"], st.count), tol["near_bayes_sphere"], o_sph, "test MSE",
        )
    )  # fmt: skip

    # case 3
    gmm = trained_runs(tables, "gmm", "softmax")
    u = not_checkable(scale.fig3("gmm", "softmax"))
    for cid, col, paper, what in (
        ("case3_alpha", "abs_alpha", "1", "the W_PV scale is α ≈ 1"),
        ("case3_beta", "abs_beta", "5.127", "the W_KQ scale is β ≈ 5.127"),
    ):
        st = stats_of(gmm, col)
        c = Claim(cid, "§3.4, Fig. 3 (case 3)", f"On Gaussian mixtures {what} (|·| over seeds)", FIG3 + f" ({col})")
        out.append(against_paper(c.measured(st, seed_spread(st)), st, paper, tol["seed_rate"], u))
    o_gmm = own_not_checkable(scale.own("gmm", "softmax"))
    gmm_p = settings["cases"].get("gmm", {})
    sz, s0 = (float(gmm_p.get(k, math.nan)) for k in ("sigma_z2", "sigma0_2"))
    heur = 1 / (s0 + sz)  # Prop. 4's heuristic beta; Eq. 8 (sigma0 -> 0) has 1/sigma_z2 above it
    st = stats_of(gmm, "abs_beta")
    c = Claim(
        "case3_beta_below",
        "§3.4, Fig. 3 (case 3)",
        "On Gaussian mixtures the trained β is below both heuristics: β < 1/(σ0²+σZ²) (Prop. 4) < 1/σZ² (Eq. 8, "
        "σ0 → 0): the seed mean's upper confidence bound below 1/(σ0²+σZ²)",
        FIG3 + " (abs_beta)",
        paper_value=f"< 1/(σ0²+σZ²) = {fmt(heur)} < 1/σZ² = {fmt(1 / sz)}",
        paper_value_num=heur,
    )
    c.measured(st, seed_spread(st), f"{fmt(st.mean)} (max over seeds {fmt(st.max)})")
    k = seed_k(tol["seed_rate"], st.count, sides=1)
    c.tol(f"mean + {fmt(k, 3)} SE < {fmt(heur)}", k, scale.own_band(tol["seed_rate"], st.count)["reason"])
    c.no_alarm("the data must show the inequality (a false pass at the bound: 1%)")
    out.append(
        c.decide(
            bool(st.mean + k * st.se < heur),
            f"|β| {fmt(st.mean)} + {fmt(k, 3)}·{fmt(st.se, 2)} ≥ {fmt(heur)} (the Prop. 4 heuristic)",
            o_gmm,
        )
    )

    st = stats_of(gmm, "train_mse")
    bayes = fresh_oracle(tables, "gmm", "bayes")
    k = seed_k(tol["seed_rate"], st.count, sides=1)
    c = Claim(
        "gmm_train_below_bayes",
        "this project (experiments.md, Fig. 3 case 3)",
        "Gaussian-mixture softmax models reach a final train MSE below the Bayes MSE: overfitting of the "
        f"{settings['n_train']} training prompts (Prop. 1 bounds only the expected, test MSE)",
        FIG3 + " (train_mse), baselines.parquet (fresh)",
        paper_value=f"below Bayes {fmt(bayes.mean)}",
        paper_value_num=bayes.mean,
    )
    c.measured(st, seed_spread(st))
    c.tol(f"mean + {fmt(k, 3)} SE < Bayes", k, scale.own_band(tol["seed_rate"], st.count)["reason"])
    c.no_alarm("the data must show the inequality (a false pass at the bound: 1%)")
    out.append(
        c.decide(
            bool(st.mean + k * st.se < bayes.mean),
            f"train MSE {fmt(st.mean)} + {fmt(k, 2)}·{fmt(st.se, 2)} ≥ Bayes {fmt(bayes.mean)}",
            o_gmm,
        )
    )
    return out


def oracle_claims(tables, scale: Scale, tol) -> list[Claim]:
    """Props. 2-4 and Eq. 8: every oracle's Monte Carlo MSE against its closed form or reference value."""
    out = []
    k = float(tol["k_mc"]["value"])

    def mc_vs(cid, source, statement, case, estimator, ref, ref_text, uncheckable, evidence, kind="claim"):
        st = fresh_oracle(tables, case, estimator)
        c = Claim(cid, source, statement, evidence, paper_value=ref_text, paper_value_num=ref, kind=kind)
        c.measured(st, mc_spread(st))
        if st.count == 0:
            return c.decide(False, "", uncheckable or f"no {case} {estimator} estimate in this run")
        # plus half the reference's printed unit, and float64 rounding (a zero-variance estimator, such as the
        # zero predictor on a sphere, has an SE of rounding noise)
        rounding = float(tol["float_rel"]["value"]) * abs(ref)
        margin = k * st.se + (half_unit(ref_text) if uncheckable is not None else 0.0) + rounding
        c.tol(f"± {fmt(margin, 2)} ({fmt(k, 2)} SE)", margin, tol["k_mc"]["reason"])
        c.alarm(k, math.inf)
        gap = abs(st.mean - ref)
        return c.decide(
            bool(gap <= margin),
            f"|{fmt(st.mean)} − {ref_text}| = {fmt(gap, 2)} > {fmt(margin, 2)} ({fmt(gap / st.se, 2)} SE)",
            uncheckable,
        )

    ev = "baselines.parquet (fresh, theory)"
    for cid, case, est, source, statement, kind in (
        (
            "prop2_subspace_bayes",
            "subspace",
            "bayes",
            "Prop. 2",
            "The subspace Bayes denoiser σ0²/(σ0²+σZ²)·P x̃ has MSE (d/n)σ0²σZ²/(σ0²+σZ²) (Monte Carlo = closed form)",
            "claim",
        ),
        (
            "prop2_subspace_projection",
            "subspace",
            "projection",
            "§2.3 (Prop. 2)",
            "The unshrunk projection P x̃ has MSE (d/n)σZ² (Monte Carlo = closed form)",
            "claim",
        ),
        *(
            (
                f"zero_predictor_{case}",
                case,
                "zero",
                "Fig. 3 baselines",
                f"The zero predictor's MSE on {case} is E‖x‖²/n (Monte Carlo = closed form)"
                + (": ‖x‖ = R by construction, an identity (a sanity check of the code)" if case == "sphere" else ""),
                SANITY if case == "sphere" else "claim",
            )
            for case in ("subspace", "sphere", "gmm")
        ),
        (
            "sphere_linear_shrinkage",
            "sphere",
            "linear_shrinkage",
            "this project (experiments.md)",
            "The best linear sphere oracle c·x̃∥, c = R²/(R²+(d+1)σZ²), has MSE R²(d+1)σZ²/(n(R²+(d+1)σZ²)) "
            "(Monte Carlo = closed form)",
            "claim",
        ),
    ):
        ref = theory_oracle(tables, case, est)
        out.append(mc_vs(cid, source, statement, case, est, ref, fmt(ref), None, ev, kind))

    for cid, case, est, ref_text, source, statement in (
        (
            "prop3_sphere_bayes",
            "sphere",
            "bayes",
            "0.028993",
            "Prop. 3, experiments.md",
            "The sphere Bayes denoiser R·I_{(d+1)/2}(κ)/I_{(d−1)/2}(κ)·x̃∥/‖x̃∥‖ has MSE 0.028993 (quadrature, "
            "experiments.md; the paper shows it only as a line)",
        ),
        (
            "prop3_sphere_projection",
            "sphere",
            "projection",
            "0.0337",
            "Prop. 3 (κ → ∞), experiments.md",
            "Projection onto the sphere, R x̃∥/‖x̃∥‖, has MSE ≈ 0.0337 (experiments.md, corrected from 0.0340)",
        ),
        (
            "prop4_gmm_bayes",
            "gmm",
            "bayes",
            "0.0230",
            "Prop. 4, experiments.md",
            "The Gaussian-mixture Bayes denoiser (Prop. 4) has MSE ≈ 0.0230",
        ),
        (
            "eq8_gmm_sigma0_to_0",
            "gmm",
            "bayes_sigma0_to_0",
            "0.0262",
            "Eq. 8, experiments.md",
            "The σ0 → 0 form of the mixture denoiser (Eq. 8) has MSE ≈ 0.0262 at σ0² = 0.02",
        ),
    ):
        u = not_checkable(scale.oracle(case))
        out.append(mc_vs(cid, source, statement, case, est, float(ref_text), ref_text, u or "", ev))
    # The paired comparison: Bayes strictly below the best linear shrinkage
    st = fresh_delta(tables, "sphere", "linear_shrinkage")
    c = Claim(
        "sphere_bayes_below_linear",
        "this project (experiments.md)",
        "The sphere Bayes oracle beats the best linear shrinkage (paired difference linear − Bayes on the same fresh "
        "prompts > 0); the authors' wrong-order Bessel line did not (see deviations)",
        "baselines.parquet (fresh, delta_vs_bayes); Figure 3 case 2",
        paper_value="> 0",
        paper_value_num=0.0,
    )
    c.measured(st, mc_spread(st), f"{fmt(st.mean, 3)} (linear − Bayes)")
    c.tol(f"> {fmt(k, 2)} SE", k, tol["k_mc"]["reason"])
    c.no_alarm("the data must show the sign (a false pass at zero: 0.13%)")
    out.append(c.decide(bool(st.mean > k * st.se), f"difference {fmt(st.mean, 3)} ≤ {fmt(k, 2)} × {fmt(st.se, 2)}"))
    return out
