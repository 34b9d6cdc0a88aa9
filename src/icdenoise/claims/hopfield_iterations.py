"""Hopfield iterations (hopfield_iterations, beyond the paper, §4): its claims, one step with γ = α is best.

A comparison within this run's tables (on its own fresh prompts): checked at any task setting with the paper's
training recipe and a seed spread (:meth:`icdenoise.verdict.Scale.own`).
"""

from __future__ import annotations

import math

from ..verdict import Claim, Scale, Stats, fmt, own_not_checkable

#: The tables these claims read (of the hopfield_iterations study).
TABLES = ("hopfield_iterations",)


def claims(tables, settings, scale: Scale, tol) -> list[Claim]:
    """§4, beyond the paper: from the trained weights no K steps of Eq. 16 with another γ beat one step with γ = α."""
    out = []
    hi = tables.get("hopfield_iterations")
    k = float(tol["k_mc"]["value"])
    for case in ("subspace", "sphere", "gmm"):
        c = Claim(
            f"hopfield_one_step_{case}",
            "§4 (experiments.md: beyond the paper)",
            f"{case}: from the trained weights (seed-mean scaled identity), one step with γ = α is best: no K steps "
            "with another γ beat it by more than k paired SEs on the same fresh prompts",
            "Hopfield iterations figure; hopfield_iterations.parquet (trained_mean: delta_vs_one_step, delta_se)",
            paper_value="one step best",
        )
        sub = hi[(hi["case"] == case) & (hi["point"] == "trained_mean")] if hi is not None else None
        if sub is None or sub.empty:
            out.append(c.decide(False, "", f"no {case} iteration study"))
            continue
        best = sub.loc[sub["delta_vs_one_step"].idxmin()]
        delta, se = float(best["delta_vs_one_step"]), float(best["delta_se"])
        c.measured(
            Stats([delta], se=se),
            f"± {fmt(se, 2)} (paired SE, {int(best['num_prompts'])} prompts)",
            f"best K = {int(best['K'])}, γ = {fmt(float(best['gamma_over_alpha']), 2)}α: "
            f"{fmt(float(best['mse']))}, {fmt(delta, 3)} vs one step",
        )
        c.tol(f"best − one step ≥ −{fmt(k, 2)} SE", k, tol["k_mc"]["reason"])
        c.alarm(k, math.inf, sides=1, family=max(len(sub) - 1, 1), extra=", independent comparisons: an upper bound")
        out.append(
            c.decide(
                bool(delta >= -k * se),
                f"K = {int(best['K'])}, γ = {fmt(float(best['gamma_over_alpha']), 2)}α beats one step by "
                f"{fmt(-delta, 3)} ± {fmt(se, 2)} ({fmt(-delta / se if se else math.inf, 2)} SE)",
                own_not_checkable(scale.own(case, "softmax")),
            )
        )
    return out
