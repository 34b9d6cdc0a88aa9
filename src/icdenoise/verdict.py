"""The verdict machinery of the claims: statistics, settings against the paper's, one claim and its verdict.

A seed mean is reported with the seeds' min–max and its standard error (sd/√seeds); a Monte Carlo value with
± its standard error. A claim with a numeric paper value is "reproduced" when |mean − paper| ≤ k·SE plus half a
printed unit of the paper's value, where k is Student's t quantile for the seeds' degrees of freedom at the stated
false-alarm rate (``claims.tolerances.seed_rate``; Monte Carlo means over many prompts use the normal k of
``k_mc``). A quantity with a natural bound (an MSE is never below Bayes in expectation) is tested on that side with
SEs, and against a stated margin on the other. Each claim carries its false-alarm rate as its rule gives it: the
chance that the rule says "not reproduced" when the quantity's true value is the paper's value (or sits on its
natural bound). No number that decides a verdict is typed here: every rate, k and margin comes from
``claims.tolerances``; the paper's settings are :data:`icdenoise.paper.PAPER_SCALE`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy import stats as sps

# --------------------------------------------------------------------------------------------
# The verdicts and the columns of claims.parquet and deviations.parquet
# --------------------------------------------------------------------------------------------

REPRODUCED, FAILED, UNCHECKABLE = "reproduced", "not reproduced", "not checkable at this scale"
NO_VERDICT = "reported, no verdict"
VERDICTS = (REPRODUCED, FAILED, UNCHECKABLE, NO_VERDICT)
#: Kinds of rows: a claim of the paper (counted in the verdict), a sanity check of this code (an identity that only
#: a bug can break: outside the count, but strict_claims fails on it), a quantity reported without a verdict.
CLAIM, SANITY, REPORTED = "claim", "sanity check", "reported"

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
    "kind": "string",  # CLAIM, SANITY or REPORTED
    "false_alarm": "string",  # the false-alarm rate of the rule, in words
    "false_alarm_rate": "float64",  # NaN where the rule has none (a stated margin, or the data must show a sign)
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
    """The spread column of a seed mean: the seeds' min–max, their count and the SE."""
    return f"seeds {fmt(st.min)}–{fmt(st.max)} (n = {st.count}), SE {fmt(st.se, 2)}"


def mc_spread(st: Stats) -> str:
    """The spread column of a Monte Carlo mean: ± its SE over the prompts."""
    return f"± {fmt(st.se, 2)} (SE, {st.count} prompts)"


def half_unit(paper_value: str) -> float:
    """Half a unit of the last printed digit of a decimal paper value ("0.327" -> 0.0005); 0 for integers."""
    text = paper_value.strip()
    if "." not in text:
        return 0.0
    return 0.5 * 10.0 ** (-len(text.split(".")[1]))


def stats_of(df, col: str) -> Stats:
    """A column of a table as a :class:`Stats` (empty when the table is missing or empty)."""
    return Stats(df[col]) if df is not None and not df.empty else Stats([])


def seed_mean(values, ses) -> tuple[float, float]:
    """Seed mean and its SE: the prompt SE (seeds share the prompts: taken as fully correlated, conservative)
    and the spread over seeds, added in quadrature."""
    v, s = np.asarray(values, float), np.asarray(ses, float)
    seed_var = v.var(ddof=1) / v.size if v.size > 1 else 0.0
    return float(v.mean()), float(math.sqrt(float(np.mean(s)) ** 2 + seed_var))


def t_k(rate: float, dof: float, sides: int = 2, family: int = 1) -> float:
    """k of a t band with ``dof`` degrees of freedom (inf: normal) whose false-alarm rate is ``rate`` over a family
    of ``family`` independent tests (Šidák), ``sides`` = 2 (|T| > k) or 1 (T < −k)."""
    if not dof >= 1:
        return math.nan
    per_test = 1.0 - (1.0 - float(rate)) ** (1.0 / int(family))
    return float(sps.t.isf(per_test / sides, dof)) if np.isfinite(dof) else float(sps.norm.isf(per_test / sides))


def false_alarm_of(k: float, dof: float, sides: int = 2, family: int = 1) -> float:
    """The false-alarm rate of a k band: P(any of ``family`` independent t(dof) statistics leaves it)."""
    if not (np.isfinite(k) and dof >= 1):
        return math.nan
    tail = sps.t.sf(k, dof) if np.isfinite(dof) else sps.norm.sf(k)
    return float(1.0 - (1.0 - sides * tail) ** int(family))


def rate_text(rate: float, dof: float, sides: int = 2, family: int = 1, extra: str = "") -> str:
    """The false-alarm column: "1.0% (t, 5 df, two-sided)"."""
    if not np.isfinite(rate):
        return "n/a"
    law = f"t, {fmt(dof, 3)} df" if np.isfinite(dof) else "normal"
    side = "two-sided" if sides == 2 else "one-sided"
    fam = f", over {family} tests" if family > 1 else ""
    return f"{fmt(100 * rate, 2)}% ({law}, {side}{fam}{extra})"


# --------------------------------------------------------------------------------------------
# Which claims this run's settings can check
# --------------------------------------------------------------------------------------------


def setting_differences(label: str, have, want) -> list[str]:
    """One line per setting of ``want`` (nested mappings by dotted label) that ``have`` does not equal."""
    if isinstance(want, Mapping):
        out = []
        for k, w in want.items():
            out += setting_differences(f"{label}.{k}", (have or {}).get(k) if isinstance(have, Mapping) else None, w)
        return out
    if isinstance(want, (list, tuple)):
        same = isinstance(have, (list, tuple)) and [float(x) for x in have] == [float(x) for x in want]
    else:
        same = have is not None and (have == want or (_num(have) and _num(want) and float(have) == float(want)))
    return [] if same else [f"{label} = {have} (paper {want})"]


def _num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


class Scale:
    """Compares this run's settings with the paper's (:data:`icdenoise.paper.PAPER_SCALE`), for the two kinds of
    claims.

    * **Paper-number claims** (the reference is a number printed in the paper or experiments.md): checkable only
      where every setting the number depends on is the paper's (:meth:`fig3`, :meth:`oracle`, :meth:`fig5`).
    * **Own-settings claims** (the reference follows from theory at this run's settings, or from this run's own
      tables): checkable at any task setting (n, L, n_train, n_test, a case's d, p, R, σ0², σZ²) when the runs
      exist, the training recipe the statement is about is the paper's (epochs and train.*: the statement is about
      the trained optimum) and there are :attr:`OWN_MIN_SEEDS` seeds (:meth:`own`, :meth:`recipe`,
      :meth:`own_seeds`, :meth:`own_band`).
    """

    #: The fewest seeds of an own-settings claim: two give a seed spread (Student's t at seeds − 1 df widens the
    #: band for few seeds); a paper-number claim asks for the paper scale's ``min_seeds``.
    OWN_MIN_SEEDS = 2

    def __init__(self, settings: Mapping):
        from .paper import PAPER_SCALE

        self.s = settings
        self.paper = PAPER_SCALE

    # ---- paper-number claims -------------------------------------------------------------------------------

    def too_few_seeds(self, seeds, label) -> list[str]:
        """A line when ``seeds`` are fewer than the paper scale's ``min_seeds`` (no seed spread)."""
        k = int(self.paper["min_seeds"])
        return [] if len(seeds) >= k else [f"{label}: {len(seeds)} seed(s) (need {k} for a seed spread)"]

    def oracle(self, case: str) -> list[str]:
        """Oracle MSEs against the paper's numbers: the task settings of the case (and n)."""
        if case not in self.s["cases"]:
            return [f"case {case} not in this run"]
        want = {k: v for k, v in self.paper["cases"][case].items() if k != "epochs"}
        return setting_differences("n", self.s["n"], self.paper["n"]) + setting_differences(
            f"cases.{case}", self.s["cases"][case], want
        )

    def task(self, case: str) -> list[str]:
        """The task and data settings of a trained run (n, L, n_train, n_test, the case's), not its training."""
        out = []
        for key in ("n", "L", "n_train", "n_test"):
            out += setting_differences(key, self.s[key], self.paper[key])
        want = {k: v for k, v in self.paper["cases"][case].items() if k != "epochs"}
        return out + setting_differences(f"cases.{case}", self.s["cases"].get(case, {}), want)

    def is_paper_task(self, case: str) -> bool:
        """True when this run's task settings of ``case`` are the paper's: its printed numbers are the reference."""
        return case in self.s["cases"] and not self.task(case)

    def fig3(self, case: str, model: str = "softmax") -> list[str]:
        """A trained Figure 3 run against the paper's printed numbers: every setting of the task, data and training."""
        if not self._trained(case, model):
            return [f"({case}, {model}) not trained in this run"]
        out = self.task(case) + self.recipe(case)
        return out + self.too_few_seeds(self.s["seeds"], "seeds")

    def fig5(self) -> list[str]:
        """Figure 5's ordering at the paper's demonstration settings (dam_energy: its own R, L, σZ², α, β, steps)."""
        want = dict(self.paper["dam_energy"])
        steps = int(want.pop("steps"))
        de = self.s["dam_energy"]
        out = setting_differences("dam_energy", de, want)
        if max(de["panels"]) < steps:
            out.append(f"dam_energy.panels = {de['panels']} (paper {steps} steps)")
        return out

    # ---- own-settings claims -------------------------------------------------------------------------------

    def recipe(self, case: str | None, skip=()) -> list[str]:
        """The training recipe against the paper's: ``cases.<case>.epochs`` (none for ``case`` None) and ``train.*``
        (less the keys in ``skip``, a study that sets them itself)."""
        out = []
        if case is not None:
            have = self.s["cases"].get(case, {}).get("epochs")
            out += setting_differences(f"cases.{case}.epochs", have, self.paper["cases"][case]["epochs"])
        want = {k: v for k, v in self.paper["train"].items() if k not in skip}
        return out + setting_differences("train", self.s["train"], want)

    def own_seeds(self, seeds, label) -> list[str]:
        """A line when ``seeds`` are fewer than :attr:`OWN_MIN_SEEDS` (no seed spread at all)."""
        k = self.OWN_MIN_SEEDS
        return [] if len(seeds) >= k else [f"{label}: {len(seeds)} seed(s) (need {k} for a seed spread)"]

    def own(self, case: str, model: str, seeds=None, label: str = "seeds", skip=()) -> list[str]:
        """An own-settings claim on trained runs of (case, model): the runs exist, the recipe is the paper's
        (:meth:`recipe`) and the seeds (default: this run's ``seeds``) give a spread (:meth:`own_seeds`)."""
        if not self._trained(case, model):
            return [f"({case}, {model}) not trained in this run"]
        seeds = self.s["seeds"] if seeds is None else seeds
        return self.recipe(case, skip) + self.own_seeds(seeds, label)

    def own_band(self, tol: Mapping, count: int) -> Mapping:
        """A seed band's tolerance (``claims.tolerances.seed_rate``), its reason saying so where fewer seeds than
        the paper scale's ``min_seeds`` widen the band (Student's t at seeds − 1 df)."""
        k = int(self.paper["min_seeds"])
        if not self.OWN_MIN_SEEDS <= count < k:
            return tol
        width = fmt(t_k(float(tol["value"]), count - 1), 3)
        return {
            **tol,
            "reason": f"{tol['reason']}; {count} seeds: the t quantile at {count - 1} df (k = {width}) widens the "
            "band honestly",
        }

    def _trained(self, case: str, model: str) -> bool:
        return case in self.s["cases"] and model in self.s["models"]


#: The "not checkable" notes' openings: a paper number elsewhere, an own-settings claim without its recipe or seeds.
PAPER_SETTINGS = "this run differs from the paper's settings: "
OWN_SETTINGS = (
    "checked at this run's own settings only with the paper's training recipe (the statement is about the trained "
    "optimum) and a seed spread: "
)


def not_checkable(differences: list[str], why: str = PAPER_SETTINGS) -> str | None:
    """The "not checkable" note from the settings that differ (None when none differ); ``why`` opens it
    (:data:`PAPER_SETTINGS` for a paper-number claim, :data:`OWN_SETTINGS` for an own-settings claim)."""
    if not differences:
        return None
    return why + "; ".join(differences)


def own_not_checkable(differences: list[str]) -> str | None:
    """:func:`not_checkable` of an own-settings claim (the differences of :meth:`Scale.own`)."""
    return not_checkable(differences, OWN_SETTINGS)


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
            kind=CLAIM,
            false_alarm="n/a",
            false_alarm_rate=math.nan,
        )
        self.rule = {}  # the rule behind false_alarm_rate: k, dof, sides, family (what the simulation test replays)
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

    def alarm(self, k: float, dof: float, sides: int = 2, family: int = 1, extra: str = "", pooled=False) -> Claim:
        """Record the rule's false-alarm rate (:func:`false_alarm_of`) and the rule itself."""
        rate = false_alarm_of(k, dof, sides, family)
        self.rule = dict(k=float(k), dof=float(dof), sides=int(sides), family=int(family), pooled=pooled)
        self.update(false_alarm=rate_text(rate, dof, sides, family, extra), false_alarm_rate=rate)
        return self

    def no_alarm(self, why: str) -> Claim:
        """A rule without a false-alarm rate (a stated margin, or a sign the data must show), and why."""
        self.update(false_alarm=f"n/a: {why}", false_alarm_rate=math.nan)
        return self

    def decide(self, ok: bool, why_not: str, uncheckable: str | None = None) -> Claim:
        """Set the verdict; ``uncheckable`` (a reason) wins over the comparison."""
        if self["kind"] == REPORTED:
            self.update(verdict=NO_VERDICT, note=uncheckable or "")
            return self
        if uncheckable:
            self.update(verdict=UNCHECKABLE, note=uncheckable)
        elif not np.isfinite(self["reproduced_value"]) and not ok:
            self.update(verdict=UNCHECKABLE, note="no value in this run's tables")
        else:
            self.update(verdict=REPRODUCED if ok else FAILED, note="" if ok else why_not)
        return self


def seed_k(tol: Mapping, count: int, sides: int = 2, family: int = 1) -> float:
    """k of a seed mean's band: Student's t with count − 1 degrees of freedom at the rate ``tol["value"]``."""
    return t_k(float(tol["value"]), count - 1, sides, family)


def against_paper(claim: Claim, st: Stats, paper: str, tol: Mapping, uncheckable: str | None) -> Claim:
    """Seed mean against a printed paper value: |mean − paper| ≤ k·SE + half a printed unit, k = t(seeds − 1)."""
    claim.update(paper_value=paper, paper_value_num=float(paper))
    return _seed_band(claim, st, float(paper), paper, half_unit(paper), tol, uncheckable)


def against_theory(claim: Claim, st: Stats, ref: float, ref_text: str, tol: Mapping, uncheckable: str | None) -> Claim:
    """Seed mean against a reference from theory at this run's own settings (``ref_text`` says which):
    |mean − ref| ≤ k·SE, k = t(seeds − 1); the reference is exact, so no printed unit is added."""
    claim.update(paper_value=ref_text, paper_value_num=float(ref))
    return _seed_band(claim, st, float(ref), fmt(ref), None, tol, uncheckable)


def _seed_band(claim: Claim, st: Stats, ref: float, ref_str: str, half: float | None, tol, uncheckable) -> Claim:
    """The two-sided seed band of :func:`against_paper` (``half``: half a printed unit) and :func:`against_theory`
    (``half`` None)."""
    k = seed_k(tol, st.count)
    margin = k * st.se + (half or 0.0) if np.isfinite(st.se) else math.nan
    if half is None:
        reason = f"{tol['reason']}; here the reference is theory at this run's settings (exact: no printed unit)"
        claim.tol(f"± {fmt(margin, 2)} ({fmt(k, 3)} SE)", margin, reason)
        claim.alarm(k, st.count - 1)
    else:
        claim.tol(f"± {fmt(margin, 2)} ({fmt(k, 3)} SE + {fmt(half, 1)})", margin, tol["reason"])
        claim.alarm(k, st.count - 1, extra=", at most: the half unit lowers it" if half else "")
    gap = abs(st.mean - ref)
    if not np.isfinite(margin) and not uncheckable:
        uncheckable = "a single value: no standard error"
    z = gap / st.se if st.se else math.inf
    return claim.decide(
        bool(gap <= margin),
        f"|{fmt(st.mean)} − {ref_str}| = {fmt(gap, 2)} > {fmt(margin, 2)} ({fmt(z, 2)} SE)",
        uncheckable,
    )


def above_bound(
    claim: Claim, st: Stats, bound: float, upper: float, text: str, tol: Mapping, margin: Mapping, uncheckable, what
) -> Claim:
    """A quantity with a natural lower bound (an MSE and Bayes): not below it by more than k·SE (one-sided t over
    the seeds), and at most ``upper`` (a stated margin, ``margin``). The false-alarm rate is the lower side's."""
    k = seed_k(tol, st.count, sides=1)
    low = bound - k * st.se
    claim.tol(f"{fmt(low)} ≤ · ≤ {text}", float(margin["value"]), f"{margin['reason']}; below: {tol['reason']}")
    claim.alarm(k, st.count - 1, sides=1, extra=f", at the bound {fmt(bound)}")
    if not np.isfinite(st.se) and not uncheckable:
        uncheckable = "a single value: no standard error"
    if st.mean < low:
        why = f"{what} {fmt(st.mean)} is below the bound {fmt(bound)} by {fmt((bound - st.mean) / st.se, 2)} SE"
        why += " (below Bayes in expectation: a leak or a bug)"
        return claim.decide(False, why, uncheckable)
    return claim.decide(bool(st.mean <= upper), f"{what} {fmt(st.mean)} > {text}", uncheckable)


def at_most(claim: Claim, value: float, bound: float, text: str, tol: Mapping, uncheckable, why: str) -> Claim:
    """``value`` ≤ ``bound`` (the bound built from the configured tolerance ``tol``, stated in ``text``)."""
    claim.tol(text, tol["value"], tol["reason"])
    return claim.decide(bool(value <= bound), why, uncheckable)
