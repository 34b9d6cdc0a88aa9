"""Gap study (gap_study, beyond the paper): its claims, the gap to Bayes in three parts, the floor against L.

Comparisons within this run's tables (one Monte Carlo Bayes, paired prompts): checked at any task setting, L and
N with the paper's training recipe and a seed spread (:meth:`icdenoise.verdict.Scale.own`).
"""

from __future__ import annotations

import math

from ..verdict import Claim, Scale, Stats, fmt, own_not_checkable, seed_mean

#: The tables these claims read (of the gap_study study, opt-in).
TABLES = ("gap_study", "gap_study_summary")

GAP = "gap study (beyond the paper)"


def claims(tables, settings, scale: Scale, tol) -> list[Claim]:
    """The gap study's findings (opt-in study: rows only when its tables are in this run).

    Per (case, model): at N = n_train the estimation part is resolved and the approximation part not below zero;
    per online_L case: the online floor's excess over Bayes falls from the smallest to the largest L."""
    summ, runs = tables.get("gap_study_summary"), tables.get("gap_study")
    if summ is None or summ.empty:
        return []
    out = []
    k = float(tol["k_mc"]["value"])
    gs = settings.get("gap_study", {})
    for r in summ.itertuples():
        c = Claim(
            f"gap_split_{r.case}_{r.model}",
            GAP,
            f"{r.case}/{r.model} at N = {r.N_ref} training prompts, L = {r.L}: the gap to Bayes in three parts, "
            "paired on the same fresh prompts against one Monte Carlo Bayes: estimation (N = "
            f"{r.N_ref} − online floor) more than k SE above zero, optimisation (online floor − best scaled identity "
            "fitted on other prompts) and approximation (best scaled identity − Bayes: the architecture seeing L "
            "context tokens against an oracle that knows the task, so the finite-L cost too), never below zero "
            "by more than k SE (Bayes is optimal)",
            "Gap study figure; gap_study_summary.parquet (est_gap, optim_gap, approx_gap and their _se)",
            paper_value="'nearly' optimal (the gap is not split)",
        )
        share = Stats([r.est_share], se=r.est_gap_se / abs(r.total_gap) if r.total_gap else math.nan)
        seeds = ""
        if runs is not None and "fresh_mse" in runs:
            at = runs[(runs["case"] == r.case) & (runs["model"] == r.model) & (runs["training"] == "finite")]
            at = at.loc[(at["L"] == r.L) & (at["N"] == r.N_ref), "fresh_mse"]
            seeds = f", fresh MSE of its seeds {fmt(at.min())}–{fmt(at.max())}" if len(at) else ""
        c.measured(
            share,
            f"estimation {fmt(r.est_gap, 3)} ± {fmt(r.est_gap_se, 2)}, optimisation {fmt(r.optim_gap, 3)} ± "
            f"{fmt(r.optim_gap_se, 2)}, approximation {fmt(r.approx_gap, 3)} ± {fmt(r.approx_gap_se, 2)} (SE: "
            f"bootstrap over {r.seeds} seeds and the prompts{seeds}); fresh(N) = floor + c·N^s, s = "
            f"{fmt(r.slope, 2)} ± {fmt(r.slope_se, 2)}",
            f"gap {fmt(r.total_gap, 3)} ({fmt(100 * r.total_gap / r.bayes_mse, 2)}% of Bayes): estimation "
            f"{fmt(100 * r.est_share, 2)}%, optimisation {fmt(100 * r.optim_share, 2)}%, approximation "
            f"{fmt(100 * r.approx_share, 2)}%",
        )
        c.tol(f"estimation > {fmt(k, 2)} SE; approximation ≥ −{fmt(k, 2)} SE", k, tol["k_mc"]["reason"])
        c.alarm(k, math.inf, sides=1, extra=", the approximation side at Bayes")
        weak = []
        if not r.est_gap > k * r.est_gap_se:
            weak.append(f"estimation {fmt(r.est_gap, 3)} ± {fmt(r.est_gap_se, 2)} is not resolved")
        if r.approx_gap < -k * r.approx_gap_se:
            weak.append(f"approximation {fmt(r.approx_gap, 3)} ± {fmt(r.approx_gap_se, 2)} is below Bayes (a bug)")
        diffs = scale.own(r.case, r.model, list(range(int(r.seeds))), "gap_study.seeds")
        out.append(c.decide(not weak, "; ".join(weak), own_not_checkable(diffs)))
    if runs is None:
        return out
    onl = runs[runs["training"] == "online"]
    for case in gs.get("online_L_cases", sorted(set(onl["case"]))):
        sub = onl[onl["case"] == case]
        Ls = sorted(set(sub["L"]))
        if len(Ls) < 2:
            continue
        model = str(sub["model"].iloc[0])
        lo, hi = (sub[sub["L"] == L] for L in (Ls[0], Ls[-1]))
        (e_lo, s_lo), (e_hi, s_hi) = (seed_mean(g["excess_mse"], g["excess_se"]) for g in (lo, hi))
        b_lo, b_hi = float(lo["bayes_mse"].mean()), float(hi["bayes_mse"].mean())
        c = Claim(
            f"gap_floor_falls_with_L_{case}",
            "§3.1 (gap study, beyond the paper)",
            f"{case}/{model}: the online floor's excess over Bayes falls as the context grows from L = {Ls[0]} to "
            f"L = {Ls[-1]} (§3.1: at large L the softmax layer can express the Bayes denoiser)",
            "Gap study figure (floor against L); gap_study.parquet (online rows: excess_mse, excess_se)",
            paper_value="falls toward Bayes",
        )
        drop, drop_se = e_lo - e_hi, math.hypot(s_lo, s_hi)
        c.measured(
            Stats([drop], se=drop_se),
            f"± {fmt(drop_se, 2)} (SE: prompts and {lo['seed'].nunique()} seeds)",
            f"excess {fmt(e_lo, 3)} ({fmt(100 * e_lo / b_lo, 2)}% of Bayes) at L = {Ls[0]} → {fmt(e_hi, 3)} "
            f"({fmt(100 * e_hi / b_hi, 2)}%) at L = {Ls[-1]}",
        )
        c.tol(f"drop > {fmt(k, 2)} SE", k, tol["k_mc"]["reason"])
        c.no_alarm("the data must show the drop (a false pass at zero: 0.13%)")
        diffs = scale.recipe(None) + scale.own_seeds(sorted(set(lo["seed"])), "gap_study.seeds")
        out.append(
            c.decide(
                bool(drop > k * drop_se),
                f"drop {fmt(drop, 3)} ± {fmt(drop_se, 2)} ({fmt(drop / drop_se if drop_se else math.inf, 2)} SE)",
                own_not_checkable(diffs),
            )
        )
    return out
