"""Claims (claims): the reproduction verdict, every claim of the paper checked against this run's tables.

What the rules of ``workflow/rules/claims.smk`` call:

- :func:`build_claims` reads only ``tables/*.parquet``, evaluates every claim of the paper (and the
  findings of this project) with its tolerance from the ``claims:`` config block, and writes
  ``claims.parquet``, ``deviations.parquet``, ``claims.md`` and the report's HTML pages.

Statistics: a seed mean is reported with the seeds' min–max and its standard error (sd/√seeds); a
Monte Carlo value with ± its standard error. A claim with a numeric paper value is "reproduced" when
|mean − paper| ≤ k·SE (k from config, with the SE floored by a configured relative precision, the
paper's rounding), or within a stated theory margin. No number that decides a verdict is typed here.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

import numpy as np

from ..io import write_table

log = logging.getLogger("icdenoise")

REPRODUCED, FAILED, UNCHECKABLE = "reproduced", "not reproduced", "not checkable at this scale"
VERDICTS = (REPRODUCED, FAILED, UNCHECKABLE)

#: The ten columns of claims.parquet (what `icdenoise claims` prints), then numeric extras.
CLAIM_TEXT_COLUMNS = (
    "id",
    "source",
    "statement",
    "paper_value",
    "reproduced",
    "spread",
    "tolerance",
    "tolerance_reason",
    "verdict",
    "evidence",
)
CLAIM_COLUMNS = {
    **dict.fromkeys(CLAIM_TEXT_COLUMNS, "string"),
    "paper_value_num": "float64",
    "reproduced_value": "float64",
    "reproduced_se": "float64",
    "reproduced_min": "float64",
    "reproduced_max": "float64",
    "tolerance_value": "float64",
}
DEVIATION_COLUMNS = {
    "id": "string",
    "deviation": "string",
    "authors": "string",
    "this_run": "string",
    "effect": "string",
    "effect_value": "float64",
    "effect_se": "float64",
    "evidence": "string",
}
# --------------------------------------------------------------------------------------------
# Statistics and formatting
# --------------------------------------------------------------------------------------------


class Stats:
    """A mean with its standard error and the min and max of what was averaged (seeds, or MC prompts)."""

    def __init__(self, values, se: float | None = None):
        v = np.asarray(values, dtype=np.float64).ravel()
        v = v[np.isfinite(v)]
        self.count = int(v.size)
        self.mean = float(v.mean()) if v.size else math.nan
        self.min = float(v.min()) if v.size else math.nan
        self.max = float(v.max()) if v.size else math.nan
        if se is not None:
            self.se = float(se)
        else:
            self.se = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else math.nan

    @classmethod
    def pooled(cls, means, ses, counts) -> Stats:
        """Monte Carlo means of independent samples (one per data seed), pooled with their SEs."""
        m, s, c = (np.asarray(x, dtype=np.float64) for x in (means, ses, counts))
        out = cls(m)
        total = c.sum()
        out.mean = float((m * c).sum() / total) if total > 0 else math.nan
        out.se = float(math.sqrt(((s * c) ** 2).sum()) / total) if total > 0 else math.nan
        out.count = int(total)
        return out


def fmt(x: float, digits: int = 4) -> str:
    """A number with ``digits`` significant digits (plain notation where readable)."""
    if x is None or not np.isfinite(x):
        return "n/a"
    if x == 0:
        return "0"
    mag = math.floor(math.log10(abs(x)))
    if -4 <= mag < 5:
        return f"{x:.{max(digits - 1 - mag, 0)}f}"
    return f"{x:.{digits - 1}e}"


def seed_spread(st: Stats) -> str:
    return f"seeds {fmt(st.min)}–{fmt(st.max)} (n = {st.count}), SE {fmt(st.se, 2)}"


def mc_spread(st: Stats) -> str:
    return f"± {fmt(st.se, 2)} (SE, {st.count} prompts)"


def half_unit(paper_value: str) -> float:
    """Half a unit of the last printed digit of a decimal paper value ("0.327" -> 0.0005); 0 for integers."""
    text = paper_value.strip()
    if "." not in text:
        return 0.0
    return 0.5 * 10.0 ** (-len(text.split(".")[1]))


# --------------------------------------------------------------------------------------------
# Which claims this run's settings can check
# --------------------------------------------------------------------------------------------


def _diff(label: str, have, want) -> list[str]:
    if isinstance(want, Mapping):
        out = []
        for k, w in want.items():
            out += _diff(f"{label}.{k}", (have or {}).get(k) if isinstance(have, Mapping) else None, w)
        return out
    if isinstance(want, (list, tuple)):
        same = isinstance(have, (list, tuple)) and [float(x) for x in have] == [float(x) for x in want]
    else:
        same = have is not None and (have == want or (_num(have) and _num(want) and float(have) == float(want)))
    return [] if same else [f"{label} = {have} (paper {want})"]


def _num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


class Scale:
    """Compares this run's settings with the paper's (``claims.paper_scale``) for each kind of claim."""

    def __init__(self, settings: Mapping):
        self.s = settings
        self.paper = settings["claims"]["paper_scale"]

    def _seeds(self, seeds, label) -> list[str]:
        k = int(self.paper["min_seeds"])
        return [] if len(seeds) >= k else [f"{label}: {len(seeds)} seed(s) (need {k} for a seed spread)"]

    def oracle(self, case: str) -> list[str]:
        """Oracle MSEs against the paper's numbers: the task settings of the case (and n)."""
        if case not in self.s["cases"]:
            return [f"case {case} not in this run"]
        want = {k: v for k, v in self.paper["cases"][case].items() if k != "epochs"}
        return _diff("n", self.s["n"], self.paper["n"]) + _diff(f"cases.{case}", self.s["cases"][case], want)

    def fig3(self, case: str, model: str = "softmax") -> list[str]:
        """A trained Figure 3 run against the paper's: every setting of the task, the data and training."""
        if case not in self.s["cases"] or model not in self.s["models"]:
            return [f"({case}, {model}) not trained in this run"]
        out = []
        for key in ("n", "L", "n_train", "n_test"):
            out += _diff(key, self.s[key], self.paper[key])
        out += _diff(f"cases.{case}", self.s["cases"][case], self.paper["cases"][case])
        out += _diff("train", self.s["train"], self.paper["train"])
        return out + self._seeds(self.s["seeds"], "seeds")

    def fig4a(self) -> list[str]:
        cs = self.s["context_sweep"]
        if "linear" not in cs.get("models", []):
            return ["context_sweep.models has no linear"]
        out = [d for d in self.fig3("subspace", "linear") if not d.startswith(("L =", "seeds"))]
        out += _diff("max(context_sweep.L)", max(cs["L"]), self.paper["L"])
        return out + self._seeds(cs["seeds"], "context_sweep.seeds")

    def fig4b(self) -> list[str]:
        ds = self.s["dim_shift"]
        sub = ds["cases"].get("subspace")
        if sub is None:
            return ["dim_shift.cases has no subspace"]
        out = [d for d in self.fig3("subspace", "linear") if not d.startswith(("L =", "seeds", "train.lr_milestones"))]
        out += _diff("dim_shift.cases.subspace.L", sub.get("L", self.paper["L"]), self.paper["L"])
        if self.paper["L"] not in ds["L_eval"]:
            out.append(f"dim_shift.L_eval = {ds['L_eval']} lacks L = {self.paper['L']}")
        return out + self._seeds(ds["seeds"], "dim_shift.seeds")

    def fig5(self) -> list[str]:
        want = dict(self.paper["dam_energy"])
        steps = int(want.pop("steps"))
        de = self.s["dam_energy"]
        out = _diff("dam_energy", de, want)
        if max(de["panels"]) < steps:
            out.append(f"dam_energy.panels = {de['panels']} (paper {steps} steps)")
        return out

    def hopfield(self, case: str) -> list[str]:
        return self.fig3(case, "softmax")


def not_checkable(differences: list[str]) -> str | None:
    if not differences:
        return None
    return "this run differs from the paper's settings: " + "; ".join(differences)


# --------------------------------------------------------------------------------------------
# One claim
# --------------------------------------------------------------------------------------------


class Claim(dict):
    """A row of the claims table (the ten text columns, numeric extras and a ``note``)."""

    def __init__(self, id: str, source: str, statement: str, evidence: str, paper_value: str = "", **kw):
        super().__init__(
            id=id,
            source=source,
            statement=statement,
            paper_value=paper_value,
            reproduced="",
            spread="",
            tolerance="",
            tolerance_reason="",
            verdict=UNCHECKABLE,
            evidence=evidence,
            note="",
            paper_value_num=math.nan,
            reproduced_value=math.nan,
            reproduced_se=math.nan,
            reproduced_min=math.nan,
            reproduced_max=math.nan,
            tolerance_value=math.nan,
        )
        self.update(kw)

    def measured(self, st: Stats, spread: str, text: str | None = None) -> Claim:
        self.update(
            reproduced=text if text is not None else fmt(st.mean),
            reproduced_value=st.mean,
            reproduced_se=st.se,
            reproduced_min=st.min,
            reproduced_max=st.max,
            spread=spread,
        )
        return self

    def tol(self, text: str, value: float, reason: str) -> Claim:
        self.update(tolerance=text, tolerance_value=float(value), tolerance_reason=reason)
        return self

    def decide(self, ok: bool, why_not: str, uncheckable: str | None = None) -> Claim:
        """Set the verdict; ``uncheckable`` (a reason) wins over the comparison."""
        if uncheckable:
            self.update(verdict=UNCHECKABLE, note=uncheckable)
        elif not np.isfinite(self["reproduced_value"]) and not ok:
            self.update(verdict=UNCHECKABLE, note="no value in this run's tables")
        else:
            self.update(verdict=REPRODUCED if ok else FAILED, note="" if ok else why_not)
        return self


def against_paper(claim: Claim, st: Stats, paper: str, tol: Mapping, uncheckable: str | None) -> Claim:
    """Seed mean (or MC mean) against a printed paper value: |mean − paper| ≤ k·SE + half a printed unit."""
    p = float(paper)
    k = float(tol["value"])
    margin = k * st.se + half_unit(paper) if np.isfinite(st.se) else math.nan
    claim.update(paper_value=paper, paper_value_num=p)
    claim.tol(f"± {fmt(margin, 2)} ({fmt(k, 2)} SE + {fmt(half_unit(paper), 1)})", margin, tol["reason"])
    gap = abs(st.mean - p)
    if not np.isfinite(margin) and not uncheckable:
        uncheckable = "a single value: no standard error"
    z = gap / st.se if st.se else math.inf
    return claim.decide(
        bool(gap <= margin),
        f"|{fmt(st.mean)} − {paper}| = {fmt(gap, 2)} > {fmt(margin, 2)} ({fmt(z, 2)} SE)",
        uncheckable,
    )


def at_most(claim: Claim, value: float, bound: float, text: str, tol: Mapping, uncheckable, why: str) -> Claim:
    claim.tol(text, tol["value"], tol["reason"])
    return claim.decide(bool(value <= bound), why, uncheckable)


# --------------------------------------------------------------------------------------------
# The claims
# --------------------------------------------------------------------------------------------

FIG3 = "Figure 3; trained_weights.parquet"
MC_NOTE = "fresh prompts, pooled over data seeds"


def _runs(tables, case: str, model: str):
    tw = tables.get("trained_weights")
    if tw is None:
        return tw
    return tw[(tw["case"] == case) & (tw["model"] == model)].sort_values("seed")


def _fresh(tables, case: str, estimator: str) -> Stats:
    """An oracle's MSE on fresh prompts, pooled over the data seeds (Monte Carlo mean ± SE)."""
    b = tables.get("baselines")
    sub = b[(b["case"] == case) & (b["estimator"] == estimator) & (b["split"] == "fresh")] if b is not None else None
    if sub is None or sub.empty:
        return Stats([])
    return Stats.pooled(sub["mse"], sub["mse_se"], sub["num_prompts"])


def _fresh_delta(tables, case: str, estimator: str) -> Stats:
    """The paired difference estimator − Bayes on the same fresh prompts, pooled over the data seeds."""
    b = tables.get("baselines")
    sub = b[(b["case"] == case) & (b["estimator"] == estimator) & (b["split"] == "fresh")] if b is not None else None
    if sub is None or sub.empty or "delta_vs_bayes" not in sub:
        return Stats([])
    return Stats.pooled(sub["delta_vs_bayes"], sub["delta_vs_bayes_se"], sub["num_prompts"])


def _theory(tables, case: str, estimator: str) -> float:
    b = tables.get("baselines")
    sub = b[(b["case"] == case) & (b["estimator"] == estimator) & (b["split"] == "theory")] if b is not None else None
    return float(sub["mse"].iloc[0]) if sub is not None and not sub.empty else math.nan


def _col(df, col) -> Stats:
    return Stats(df[col]) if df is not None and not df.empty else Stats([])


def fig3_claims(tables, settings, scale: Scale, tol) -> list[Claim]:
    out = []
    lin, soft = _runs(tables, "subspace", "linear"), _runs(tables, "subspace", "softmax")
    u_lin, u_soft = not_checkable(scale.fig3("subspace", "linear")), not_checkable(scale.fig3("subspace", "softmax"))

    st = _col(lin, "alpha_beta")
    c = Claim(
        "case1_linear_alphabeta",
        "§3.2, Fig. 3 (case 1, linear)",
        "Linear attention on linear subspaces trains to ⟨w_KQ⟩⟨w_PV⟩ = 0.327 ≈ 1/3 (the product αβ of the mean "
        "diagonals; only the product is fixed)",
        FIG3 + " (alpha_beta)",
    )
    out.append(against_paper(c.measured(st, seed_spread(st)), st, "0.327", tol["k_seed"], u_lin))

    bayes = _theory(tables, "subspace", "bayes")
    st = _col(lin, "test_mse")
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
        at_most(
            c,
            st.mean,
            bayes * (1 + r),
            f"≤ Bayes × {fmt(1 + r, 3)} = {fmt(bayes * (1 + r))}",
            tol["near_bayes_subspace"],
            u_lin,
            f"test MSE {fmt(st.mean)} > {fmt(bayes * (1 + r))} = Bayes × {fmt(1 + r, 3)}",
        )
    )

    sphere_soft = _runs(tables, "sphere", "softmax")
    u_sph = not_checkable(scale.fig3("sphere", "softmax"))
    for cid, runs, case_label, u, source in (
        ("case1_linear_scaled_identity", lin, "linear subspaces (linear)", u_lin, "§3.2, Fig. 3 (case 1, linear)"),
        ("case2_scaled_identity", sphere_soft, "spheres (softmax)", u_sph, "§3.3, Fig. 3 (case 2)"),
    ):
        d_kq, d_pv = _col(runs, "dist_KQ"), _col(runs, "dist_PV")
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
            f"dist_KQ {fmt(d_kq.mean, 3)}, dist_PV {fmt(d_pv.mean, 3)} (seed means)",
        )
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
        st = _col(soft, col)
        c = Claim(
            cid,
            "§3.2, Fig. 3 (case 1, softmax)",
            f"Softmax attention on linear subspaces trains to {what}; |·| over seeds (sign symmetry)",
            FIG3 + f" ({col})",
        )
        out.append(against_paper(c.measured(st, seed_spread(st)), st, paper, tol["k_seed"], u_soft))

    # "performs similarly to the linear one": paired by seed (same dataset, same seed)
    st_s, st_l = _col(soft, "test_mse"), _col(lin, "test_mse")
    rel = float(tol["similar_models"]["value"])
    ratio = st_s.mean / st_l.mean if st_l.count else math.nan
    c = Claim(
        "case1_softmax_similar",
        "§3.2, Fig. 3(a) (case 1)",
        "'The softmax network performs similarly to the linear one for this task': seed-mean test MSEs of the two "
        "models on linear subspaces",
        FIG3 + " (test_mse); Figure 3(a)",
        paper_value="similar",
    )
    c.measured(
        Stats([ratio]) if np.isfinite(ratio) else Stats([]),
        f"softmax seeds {fmt(st_s.min)}–{fmt(st_s.max)}, linear seeds {fmt(st_l.min)}–{fmt(st_l.max)}",
        f"softmax {fmt(st_s.mean)} vs linear {fmt(st_l.mean)} (ratio {fmt(ratio)})",
    )
    out.append(
        at_most(
            c,
            abs(ratio - 1),
            rel,
            f"|ratio − 1| ≤ {fmt(rel, 3)}",
            tol["similar_models"],
            u_soft or u_lin,
            f"softmax/linear test MSE = {fmt(ratio)}: {fmt(100 * abs(ratio - 1), 3)}% apart > {fmt(100 * rel, 3)}%",
        )
    )

    # ε = β_softmax / β_linear, paired by seed
    eps = Stats([])
    if soft is not None and lin is not None and not soft.empty and not lin.empty:
        m = soft.merge(lin, on="seed", suffixes=("_s", "_l"))
        eps = Stats(m["abs_beta_s"] / m["abs_beta_l"])
        ab = _col(lin, "alpha_beta")
        balanced = math.sqrt(abs(ab.mean)) if np.isfinite(ab.mean) else math.nan
    else:
        balanced = math.nan
    c = Claim(
        "case1_softmax_epsilon",
        "§3.2, Fig. 3(b) (case 1)",
        "β_softmax 'decreases by a factor ε ≈ 0.344 relative to β_linear'. Not identifiable from the loss: linear "
        "attention fixes only αβ, so β_linear (and ε) is set by the optimiser's path from the initialisation "
        f"(balanced |α| = |β| would give β_linear = √(αβ) ≈ {fmt(balanced, 3)}); the measured per-seed ratio and "
        "its spread are reported",
        FIG3 + " (abs_beta of both models, paired by seed)",
    )
    out.append(against_paper(c.measured(eps, seed_spread(eps)), eps, "0.344", tol["k_seed"], u_soft or u_lin))

    # case 2
    sph = _runs(tables, "sphere", "softmax")
    u = not_checkable(scale.fig3("sphere", "softmax"))
    bayes = _fresh(tables, "sphere", "bayes")
    st = _col(sph, "test_mse")
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
        at_most(
            c,
            st.mean,
            bayes.mean * (1 + r),
            f"≤ Bayes × {fmt(1 + r, 3)} = {fmt(bayes.mean * (1 + r))}",
            tol["near_bayes_sphere"],
            u,
            f"test MSE {fmt(st.mean)} > {fmt(bayes.mean * (1 + r))} = Bayes × {fmt(1 + r, 3)}",
        )
    )

    # case 3
    gmm = _runs(tables, "gmm", "softmax")
    u = not_checkable(scale.fig3("gmm", "softmax"))
    for cid, col, paper, what in (
        ("case3_alpha", "abs_alpha", "1", "the W_PV scale is α ≈ 1"),
        ("case3_beta", "abs_beta", "5.127", "the W_KQ scale is β ≈ 5.127"),
    ):
        st = _col(gmm, col)
        c = Claim(cid, "§3.4, Fig. 3 (case 3)", f"On Gaussian mixtures {what} (|·| over seeds)", FIG3 + f" ({col})")
        out.append(against_paper(c.measured(st, seed_spread(st)), st, paper, tol["k_seed"], u))
    sz = float(settings["cases"]["gmm"]["sigma_z2"]) if "gmm" in settings["cases"] else math.nan
    st = _col(gmm, "abs_beta")
    c = Claim(
        "case3_beta_below",
        "§3.4, Fig. 3 (case 3)",
        "On Gaussian mixtures β < 1/σZ² (the σ0 → 0 form, Eq. 8, has β = 1/σZ²), for every seed",
        FIG3 + " (abs_beta)",
        paper_value=f"< 1/σZ² = {fmt(1 / sz)}",
        paper_value_num=1 / sz,
    )
    c.measured(st, seed_spread(st), f"max over seeds {fmt(st.max)}")
    c.tol("strict inequality, every seed", 0.0, "an inequality the paper states; no tolerance")
    out.append(c.decide(bool(st.max < 1 / sz), f"a seed has |β| = {fmt(st.max)} ≥ {fmt(1 / sz)}", u))

    st = _col(gmm, "train_mse")
    bayes = _fresh(tables, "gmm", "bayes")
    k = float(tol["k_seed"]["value"])
    c = Claim(
        "gmm_train_below_bayes",
        "this project (experiments.md, Fig. 3 case 3)",
        "Gaussian-mixture softmax models reach a final train MSE below the Bayes MSE: overfitting of the 800 "
        "training prompts (Prop. 1 bounds only the expected, test MSE)",
        FIG3 + " (train_mse), baselines.parquet (fresh)",
        paper_value=f"below Bayes {fmt(bayes.mean)}",
        paper_value_num=bayes.mean,
    )
    c.measured(st, seed_spread(st))
    c.tol(f"mean + {fmt(k, 2)} SE < Bayes", k, tol["k_seed"]["reason"])
    out.append(
        c.decide(
            bool(st.mean + k * st.se < bayes.mean),
            f"train MSE {fmt(st.mean)} + {fmt(k, 2)}·{fmt(st.se, 2)} ≥ Bayes {fmt(bayes.mean)}",
            u,
        )
    )
    return out


def valley_claims(tables, scale: Scale, tol) -> list[Claim]:
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


def oracle_claims(tables, scale: Scale, tol) -> list[Claim]:
    """Props. 2-4 and Eq. 8: every oracle's Monte Carlo MSE against its closed form or reference value."""
    out = []
    k = float(tol["k_mc"]["value"])

    def mc_vs(cid, source, statement, case, estimator, ref, ref_text, uncheckable, evidence):
        st = _fresh(tables, case, estimator)
        c = Claim(cid, source, statement, evidence, paper_value=ref_text, paper_value_num=ref)
        c.measured(st, mc_spread(st))
        if st.count == 0:
            return c.decide(False, "", uncheckable or f"no {case} {estimator} estimate in this run")
        # plus half the reference's printed unit, and float64 rounding (a zero-variance estimator, such as the
        # zero predictor on a sphere, has an SE of rounding noise)
        rounding = float(tol["float_rel"]["value"]) * abs(ref)
        margin = k * st.se + (half_unit(ref_text) if uncheckable is not None else 0.0) + rounding
        c.tol(f"± {fmt(margin, 2)} ({fmt(k, 2)} SE)", margin, tol["k_mc"]["reason"])
        gap = abs(st.mean - ref)
        return c.decide(
            bool(gap <= margin),
            f"|{fmt(st.mean)} − {ref_text}| = {fmt(gap, 2)} > {fmt(margin, 2)} ({fmt(gap / st.se, 2)} SE)",
            uncheckable,
        )

    ev = "baselines.parquet (fresh, theory)"
    for cid, case, est, source, statement in (
        (
            "prop2_subspace_bayes",
            "subspace",
            "bayes",
            "Prop. 2",
            "The subspace Bayes denoiser σ0²/(σ0²+σZ²)·P x̃ has MSE (d/n)σ0²σZ²/(σ0²+σZ²) (Monte Carlo = closed form)",
        ),
        (
            "prop2_subspace_projection",
            "subspace",
            "projection",
            "§2.3 (Prop. 2)",
            "The unshrunk projection P x̃ has MSE (d/n)σZ² (Monte Carlo = closed form)",
        ),
        *(
            (
                f"zero_predictor_{case}",
                case,
                "zero",
                "Fig. 3 baselines",
                f"The zero predictor's MSE on {case} is E‖x‖²/n (Monte Carlo = closed form)",
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
        ),
    ):
        ref = _theory(tables, case, est)
        out.append(mc_vs(cid, source, statement, case, est, ref, fmt(ref), None, ev))

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
    st = _fresh_delta(tables, "sphere", "linear_shrinkage")
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
    out.append(c.decide(bool(st.mean > k * st.se), f"difference {fmt(st.mean, 3)} ≤ {fmt(k, 2)} × {fmt(st.se, 2)}"))
    return out


def fig4_claims(tables, settings, scale: Scale, tol) -> list[Claim]:
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


def hopfield_claims(tables, scale: Scale, tol) -> list[Claim]:
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
        out.append(
            c.decide(
                bool(d1.mean < dl.mean),
                f"after 1 step {fmt(d1.mean)} ≥ after {last} steps {fmt(dl.mean)}",
                not_checkable(scale.fig5()),
            )
        )

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
        out.append(
            c.decide(
                bool(delta >= -k * se),
                f"K = {int(best['K'])}, γ = {fmt(float(best['gamma_over_alpha']), 2)}α beats one step by "
                f"{fmt(-delta, 3)} ± {fmt(se, 2)} ({fmt(-delta / se if se else math.inf, 2)} SE)",
                not_checkable(scale.hopfield(case)),
            )
        )
    return out


GAP = "gap study (beyond the paper)"


def gap_study_claims(tables, settings, scale: Scale, tol) -> list[Claim]:
    """The gap study's findings (opt-in study: rows only when its tables are in this run).

    Per (case, model): at N = n_train both parts of the gap to Bayes are resolved (each > k SE above zero);
    per online_L case: the online floor's excess over Bayes falls from the smallest to the largest L."""
    from .gap_study import _seed_mean

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
            f"{r.case}/{r.model} at N = {r.N_ref} training prompts, L = {r.L}: the gap to Bayes has both parts, each "
            "more than k SE above zero: approximation (online floor − Bayes: the architecture at this L) and "
            f"estimation (N = {r.N_ref} − online floor: the finite training set)",
            "Gap study figure; gap_study_summary.parquet (approx_gap, est_gap and their _se)",
            paper_value="'nearly' optimal (the gap is not split)",
        )
        share = Stats([r.approx_share], se=r.approx_gap_se / abs(r.total_gap) if r.total_gap else math.nan)
        seeds = ""
        if runs is not None and "fresh_mse" in runs:
            at = runs[(runs["case"] == r.case) & (runs["model"] == r.model) & (runs["training"] == "finite")]
            at = at.loc[(at["L"] == r.L) & (at["N"] == r.N_ref), "fresh_mse"]
            seeds = f", fresh MSE of its seeds {fmt(at.min())}–{fmt(at.max())}" if len(at) else ""
        c.measured(
            share,
            f"approximation {fmt(r.approx_gap, 3)} ± {fmt(r.approx_gap_se, 2)}, estimation {fmt(r.est_gap, 3)} ± "
            f"{fmt(r.est_gap_se, 2)} ({r.seeds} seeds{seeds}); estimation excess ∝ N^{fmt(r.slope, 2)} ± "
            f"{fmt(r.slope_se, 2)}",
            f"gap {fmt(r.total_gap, 3)} ({fmt(100 * r.total_gap / r.bayes_mse, 2)}% of Bayes): approximation "
            f"{fmt(100 * r.approx_share, 2)}%, estimation {fmt(100 * r.est_share, 2)}%",
        )
        c.tol(f"each part > {fmt(k, 2)} SE", k, tol["k_mc"]["reason"])
        weak = [
            f"{name} {fmt(v, 3)} ± {fmt(se, 2)} ({fmt(v / se if se else math.inf, 2)} SE)"
            for name, v, se in (
                ("approximation", r.approx_gap, r.approx_gap_se),
                ("estimation", r.est_gap, r.est_gap_se),
            )
            if not v > k * se
        ]
        diffs = [d for d in scale.fig3(r.case, r.model) if not d.startswith("seeds")]
        diffs += _diff("gap_study.L", int(r.L), scale.paper["L"]) + _diff("N_ref", int(r.N_ref), scale.paper["n_train"])
        diffs += scale._seeds(list(range(int(r.seeds))), "gap_study.seeds")
        out.append(c.decide(not weak, "not resolved: " + "; ".join(weak), not_checkable(diffs)))
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
        (e_lo, s_lo), (e_hi, s_hi) = (_seed_mean(g["excess_mse"], g["excess_se"]) for g in (lo, hi))
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
        diffs = scale.oracle(case) + _diff("train", settings["train"], scale.paper["train"])
        diffs += scale._seeds(sorted(set(lo["seed"])), "gap_study.seeds")
        out.append(
            c.decide(
                bool(drop > k * drop_se),
                f"drop {fmt(drop, 3)} ± {fmt(drop_se, 2)} ({fmt(drop / drop_se if drop_se else math.inf, 2)} SE)",
                not_checkable(diffs),
            )
        )
    return out


def evaluate_claims(tables: Mapping, settings: Mapping) -> list[Claim]:
    """Every claim, in the order of the paper."""
    scale = Scale(settings)
    tol = settings["claims"]["tolerances"]
    claims = fig3_claims(tables, settings, scale, tol)
    claims += valley_claims(tables, scale, tol)
    claims += oracle_claims(tables, scale, tol)
    claims += fig4_claims(tables, settings, scale, tol)
    claims += hopfield_claims(tables, scale, tol)
    claims += gap_study_claims(tables, settings, scale, tol)
    order = [
        "case1_linear_alphabeta",
        "case1_linear_near_bayes",
        "case1_linear_scaled_identity",
        "case1_softmax_beta",
        "case1_softmax_alpha",
        "case1_softmax_similar",
        "case1_softmax_epsilon",
        "case2_scaled_identity",
        "case2_near_bayes",
        "case2_valley",
        "case3_alpha",
        "case3_beta",
        "case3_beta_below",
        "case3_valley",
    ]
    claims.sort(key=lambda c: order.index(c["id"]) if c["id"] in order else len(order))
    return claims


# --------------------------------------------------------------------------------------------
# Deviations from the authors' code, with their measured effect on this run
# --------------------------------------------------------------------------------------------

NOT_MEASURED = "not measured in this run"


def evaluate_deviations(tables: Mapping, settings: Mapping) -> list[dict]:
    from ..bayes import linear_attention_finite_L_mse, linear_attention_gamma_star

    rows = []

    def row(id, deviation, authors, this_run, effect, value=math.nan, se=math.nan, evidence=""):
        rows.append(
            dict(
                id=id,
                deviation=deviation,
                authors=authors,
                this_run=this_run,
                effect=effect,
                effect_value=float(value),
                effect_se=float(se),
                evidence=evidence,
            )
        )

    # (a) sphere Bessel order
    n = int(settings["n"])
    wrong, bayes, lin = (_fresh(tables, "sphere", e) for e in ("bayes_authors_bessel", "bayes", "linear_shrinkage"))
    delta = _fresh_delta(tables, "sphere", "bayes_authors_bessel")
    if delta.count:
        d = settings["cases"]["sphere"]["d"]
        where = "above" if wrong.mean > lin.mean else "below"
        effect = (
            f"MSE {fmt(wrong.mean)} against Bayes {fmt(bayes.mean)}: +{fmt(delta.mean, 3)} ± {fmt(delta.se, 2)} "
            f"(paired, {delta.count} fresh prompts; +{fmt(100 * delta.mean / bayes.mean, 2)}%), {where} the best "
            f"linear shrinkage {fmt(lin.mean)}"
        )
        row(
            "sphere_bessel_order",
            "Bessel orders of the sphere Bayes line (Prop. 3)",
            f"I_{{{(n - 1) / 2:g}}}/I_{{{(n - 3) / 2:g}}} (ambient dimension n = {n})",
            f"I_{{{(d + 1) / 2:g}}}/I_{{{(d - 1) / 2:g}}} (sphere dimension d = {d})",
            effect,
            delta.mean,
            delta.se,
            "baselines.parquet (sphere, fresh: bayes_authors_bessel, delta_vs_bayes); Figure 3 case 2",
        )
    else:
        row(
            "sphere_bessel_order",
            "Bessel orders of the sphere Bayes line (Prop. 3)",
            "I_{7.5}/I_{6.5}",
            "",
            NOT_MEASURED,
        )

    # (b) L counting
    if "subspace" in settings["cases"]:
        p = settings["cases"]["subspace"]
        L = int(settings["L"])
        g1, g0 = (linear_attention_gamma_star(x, p["d"], p["sigma0_2"], p["sigma_z2"]) for x in (L, L - 1))
        m1, m0 = (linear_attention_finite_L_mse(x, n, p["d"], p["sigma0_2"], p["sigma_z2"]) for x in (L, L - 1))
        ab = _col(_runs(tables, "subspace", "linear"), "alpha_beta")
        size = ""
        if ab.count > 1:
            size = (
                f"; the seeds' αβ spread {fmt(ab.max - ab.min, 2)}, SE {fmt(ab.se, 2)} "
                f"({fmt(ab.se / abs(g1 - g0), 2)} times the γ* shift)"
            )
        row(
            "context_length_counting",
            "Clean context tokens L (the query is extra)",
            f"{L - 1} clean tokens (the query counted in context_len = {L})",
            f"L = {L} clean tokens",
            f"γ*: {fmt(g0, 5)} at {L - 1} against {fmt(g1, 5)} at {L} ({fmt(g1 - g0, 2)}); finite-L MSE {fmt(m0, 5)} "
            f"against {fmt(m1, 5)} ({fmt(m1 - m0, 2)}){size}",
            g1 - g0,
            math.nan,
            "closed forms (icdenoise.bayes), trained_weights.parquet (alpha_beta)",
        )

    # (c) dataset per seed against one shared dataset
    other = tables.get("dataset_choice")
    runs = _runs(tables, "subspace", "linear")
    if other is not None and not other.empty and runs is not None and not runs.empty:
        here = settings["dataset"]
        alt = str(other["dataset"].iloc[0])
        by = {here: runs, alt: other}
        per, shared = by["per_seed"], by["shared"]
        tp, ts = Stats(per["test_mse"]), Stats(shared["test_mse"])
        ap, as_ = Stats(per["alpha_beta"]), Stats(shared["alpha_beta"])
        sd_p = float(np.std(per["test_mse"], ddof=1)) if tp.count > 1 else math.nan
        sd_s = float(np.std(shared["test_mse"], ddof=1)) if ts.count > 1 else math.nan
        diff = ts.mean - tp.mean
        # the shared mean rests on ONE draw of the data: its uncertainty is the between-dataset sd
        # (the per-seed runs' sd), which the shared runs' own seed spread cannot show
        se = math.sqrt(sd_p**2 + tp.se**2)
        ds = shared["data_seed"].iloc[0]
        same = per[per["data_seed"] == ds]["test_mse"]
        same_text = f"; the per-seed run on that same dataset gives {fmt(float(same.iloc[0]))}" if len(same) else ""
        row(
            "dataset_per_seed_vs_shared",
            "Training data of the seeds",
            "one dataset shared by all seeds (only initialisation and batch order vary)",
            f"dataset: {here}",
            f"subspace/linear test MSE: shared {fmt(ts.mean)} (seeds {fmt(ts.min)}–{fmt(ts.max)}, sd {fmt(sd_s, 2)}) "
            f"against per seed {fmt(tp.mean)} (seeds {fmt(tp.min)}–{fmt(tp.max)}, sd {fmt(sd_p, 2)}): "
            f"{fmt(diff, 2)} ± {fmt(se, 2)} (one dataset's draw{same_text}); αβ shared {fmt(as_.mean)} "
            f"({fmt(as_.min)}–{fmt(as_.max)}) against per seed {fmt(ap.mean)} ({fmt(ap.min)}–{fmt(ap.max)}). "
            f"A shared dataset shrinks the seed band {fmt(sd_p / sd_s, 2)}-fold: it shows only initialisation and "
            "batch order, not the draw of the data",
            diff,
            se,
            "dataset_choice.parquet against trained_weights.parquet (subspace, linear)",
        )
    else:
        row(
            "dataset_per_seed_vs_shared",
            "Training data of the seeds",
            "one dataset shared by all seeds",
            f"dataset: {settings['dataset']}",
            NOT_MEASURED,
        )

    # (d) exact per-prompt split means against averages of batch means
    curves = tables.get("training_curves")
    if curves is not None and "train_mse_batch_avg" in curves.columns and curves["train_mse_batch_avg"].notna().any():
        tr = curves[(curves["split"] == "train") & curves["train_mse_batch_avg"].notna()]
        last = tr[tr["epoch"] == tr.groupby(["case", "model", "seed"])["epoch"].transform("max")]
        rel = (last["train_mse_batch_avg"] - last["mse"]) / last["mse"]
        st = Stats(rel)
        row(
            "split_mean_vs_batch_mean",
            "Reported train loss",
            "average of the per-batch mean losses seen during the epoch (weights change within it)",
            "exact per-prompt mean over the split with the weights at the end of the epoch",
            f"final epoch, batch average against exact: {fmt(100 * st.mean, 3)}% on average over {st.count} runs "
            f"(from {fmt(100 * st.min, 3)}% to {fmt(100 * st.max, 3)}%)",
            st.mean,
            st.se,
            "training_curves.parquet (train_mse_batch_avg against mse, split train)",
        )
    else:
        row(
            "split_mean_vs_batch_mean",
            "Reported train loss",
            "average of the per-batch mean losses seen during the epoch",
            "exact per-prompt mean over the split at the end of the epoch",
            NOT_MEASURED + " (training_curves.parquet has no train_mse_batch_avg column)",
        )

    # (e) final epoch against the minimum over training (Fig. 4a)
    cs = tables.get("context_sweep")
    lin = cs[cs["model"] == "linear"] if cs is not None else None
    if lin is not None and not lin.empty:
        gap = lin["test_mse"] - lin["min_test_mse"]
        rel = gap / lin["test_mse"]
        Lmax = int(lin["L"].max())
        top = gap[lin["L"] == Lmax]
        row(
            "fig4a_final_vs_min",
            "Figure 4a's plotted test MSE",
            "the minimum over the training curve",
            "the final epoch",
            f"final − minimum test MSE: mean {fmt(float(gap.mean()), 2)} ({fmt(100 * float(rel.mean()), 2)}%), at most "
            f"{fmt(float(gap.max()), 2)} ({fmt(100 * float(rel.max()), 2)}%) over {len(gap)} (L, seed) runs; "
            f"{fmt(float(top.mean()), 2)} at L = {Lmax}",
            float(gap.mean()),
            float(gap.std(ddof=1) / math.sqrt(len(gap))) if len(gap) > 1 else math.nan,
            "context_sweep.parquet (test_mse, min_test_mse); Figure 4a",
        )
    return rows


# --------------------------------------------------------------------------------------------
# Outputs: claims.parquet, deviations.parquet, claims.md and the report's HTML pages
# --------------------------------------------------------------------------------------------

MD_CLAIM_COLUMNS = ("id", "source", "statement", "paper_value", "reproduced", "spread", "tolerance", "verdict")
MD_DEVIATION_COLUMNS = ("id", "deviation", "authors", "this_run", "effect", "evidence")


def summary(claims: list[dict]) -> dict:
    counts = {v: sum(c["verdict"] == v for c in claims) for v in VERDICTS}
    failing = [c["id"] for c in claims if c["verdict"] == FAILED]
    text = (
        f"{counts[REPRODUCED]} of {len(claims)} claims reproduced, {counts[FAILED]} not reproduced, "
        f"{counts[UNCHECKABLE]} not checkable at this scale"
    )
    return dict(counts=counts, failing=failing, total=len(claims), text=text)


def settings_line(settings: Mapping) -> str:
    cases = ", ".join(f"{k} {v}" for k, v in settings["cases"].items())
    return (
        f"n = {settings['n']}, L = {settings['L']}, n_train = {settings['n_train']}, n_test = {settings['n_test']}, "
        f"seeds {list(settings['seeds'])}, dataset: {settings['dataset']}; cases: {cases}"
    )


def _md_cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _md_table(rows: list[dict], columns) -> list[str]:
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(_md_cell(r[c]) for c in columns) + " |" for r in rows]
    return out


def claims_markdown(claims: list[dict], deviations: list[dict], settings: Mapping) -> str:
    s = summary(claims)
    lines = [
        "# Reproduction verdict",
        "",
        f"**{s['text']}.**",
        "",
        f"Settings of this run: {settings_line(settings)}.",
        "",
        *_md_table(claims, MD_CLAIM_COLUMNS),
        "",
        "## Why claims fail",
        "",
    ]
    failing = [c for c in claims if c["verdict"] == FAILED]
    lines += [f"- `{c['id']}`: {c['note']}" for c in failing] or ["None."]
    lines += ["", "## Not checkable at this scale", ""]
    unchecked = [c for c in claims if c["verdict"] == UNCHECKABLE]
    lines += [f"- `{c['id']}`: {c['note']}" for c in unchecked] or ["None: every claim was checked."]
    lines += ["", "## Tolerances", ""]
    seen = {}
    for c in claims:
        if c["tolerance_reason"]:
            seen.setdefault(c["tolerance_reason"], []).append(c["id"])
    lines += [f"- {', '.join(f'`{i}`' for i in ids)}: {reason}" for reason, ids in seen.items()]
    lines += ["", "## Deviations from the authors' code", "", *_md_table(deviations, MD_DEVIATION_COLUMNS), ""]
    return "\n".join(lines)


_CSS = (
    "<style>body{font-family:sans-serif;font-size:13px}table{border-collapse:collapse}"
    "td,th{border:1px solid #bbb;padding:3px 6px;vertical-align:top;text-align:left}th{background:#eee}"
    ".reproduced{background:#d7f5d7}.not-reproduced{background:#f8d0d0}.not-checkable{background:#eee}</style>"
)


def _html_table(rows: list[dict], columns, verdict_col: str | None = None) -> str:
    import html

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for r in rows:
        cls = ""
        if verdict_col:
            cls = {REPRODUCED: "reproduced", FAILED: "not-reproduced"}.get(r[verdict_col], "not-checkable")
        cells = "".join(f"<td>{html.escape(str(r[c]))}</td>" for c in columns)
        body.append(f'<tr class="{cls}">{cells}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def verdict_html(claims: list[dict]) -> str:
    """The verdict paragraph (between markers: the report's first page copies it from claims.html)."""
    import html

    s = summary(claims)
    fails = "".join(
        f"<li><code>{html.escape(c['id'])}</code>: {html.escape(c['note'])}</li>"
        for c in claims
        if c["verdict"] == FAILED
    )
    return (
        f"<!-- verdict:start --><p><b>{html.escape(s['text'])}.</b></p>"
        + (f"<p>Not reproduced:</p><ul>{fails}</ul>" if fails else "")
        + "<!-- verdict:end -->"
    )


def claims_html(claims: list[dict], settings: Mapping) -> str:
    import html

    columns = (*CLAIM_TEXT_COLUMNS, "note")
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Claims</title>{_CSS}</head><body>"
        f"<h2>Reproduction verdict: every claim</h2>{verdict_html(claims)}"
        f"<p>Settings: {html.escape(settings_line(settings))}</p>"
        f"{_html_table(claims, columns, 'verdict')}</body></html>"
    )


def deviations_html(deviations: list[dict]) -> str:
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Deviations</title>{_CSS}</head><body>"
        "<h2>Deviations from the authors' code, with their measured effect on this run</h2>"
        f"{_html_table(deviations, tuple(DEVIATION_COLUMNS))}</body></html>"
    )


def load_tables(paths) -> dict:
    """``tables/<name>.parquet`` files as {name: DataFrame}."""
    from pathlib import Path

    from ..io import read_table

    return {Path(p).name.removesuffix(".parquet"): read_table(p) for p in paths}


def build_claims(
    table_paths,
    out_claims: str,
    out_deviations: str,
    out_md: str,
    out_claims_html: str,
    out_deviations_html: str,
    *,
    settings: Mapping,
    strict: bool = False,
) -> dict:
    """Rule claims: evaluate every claim and deviation from the tables; write the five outputs.

    With ``strict`` the job fails (after logging the table) when any claim is "not reproduced".
    """
    import pandas as pd

    from ..io import atomic_output

    tables = load_tables(table_paths)
    claims = evaluate_claims(tables, settings)
    deviations = evaluate_deviations(tables, settings)
    df = pd.DataFrame(claims, columns=[*CLAIM_COLUMNS, "note"]).astype({**CLAIM_COLUMNS, "note": "string"})
    write_table(df, out_claims)
    write_table(pd.DataFrame(deviations, columns=list(DEVIATION_COLUMNS)).astype(DEVIATION_COLUMNS), out_deviations)
    md = claims_markdown(claims, deviations, settings)
    for path, text in (
        (out_md, md),
        (out_claims_html, claims_html(claims, settings)),
        (out_deviations_html, deviations_html(deviations)),
    ):
        with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
    s = summary(claims)
    log.info("%s\n\n%s", s["text"], md)
    if strict and s["failing"]:
        why = "\n".join(f"  - {c['id']}: {c['note']}" for c in claims if c["verdict"] == FAILED)
        raise SystemExit(
            f"strict_claims: {len(s['failing'])} claim(s) not reproduced: {', '.join(s['failing'])}\n{why}\n"
            "(the full claims table is in this job's log; rerun without strict_claims to keep claims.md)"
        )
    return s
