"""Phase diagram (phase_diagram, beyond the paper): the paper's statements checked at every grid point.

Each statement's reference follows from theory at the point's own settings, so it is checked there, not
only at the paper's point:

* ``alphabeta_gamma_star`` (subspace, linear; §3.2, Fig. 4a): the seed mean of αβ within k SE (Student's t at
  ``seed_rate``) of the finite-L optimum γ*(L) = L/((σ0²+σZ²)(L+d+1));
* ``bayes_mc_closed_form`` (subspace; Prop. 2): the Bayes oracle's Monte Carlo MSE on the fresh prompts
  within k SE (``k_mc``, plus ``float_rel``) of the closed form (d/n)σ0²σZ²/(σ0²+σZ²);
* ``gmm_beta_below`` (gmm, softmax; §3.4): |β| < 1/σZ² for every seed;
* ``near_bayes`` (every case and model; §3.2-3.3): the seed-mean test MSE within ``near_bayes`` (10 %) of
  the Bayes MSE (closed form where there is one, else the fresh-prompt Monte Carlo).

:func:`check_points` writes one row per (statement, point), :func:`summarise_checks` the fraction of the grid
where each holds; :func:`claims` turns that summary into claims rows (``TABLES``, the claims package's
interface: a statement is reproduced when it holds at every point of the grid where it was checked).
"""

from __future__ import annotations

import math

#: The tables these claims read (of the phase_diagram study, opt-in).
TABLES = ("phase_diagram_summary", "phase_diagram_checks")

SOURCE = "phase diagram (beyond the paper)"

#: statement id -> (paper source, the statement in words)
STATEMENTS = {
    "alphabeta_gamma_star": (
        "§3.2, Fig. 4(a)",
        "linear attention on subspaces trains to αβ = γ*(L) = L/((σ0²+σZ²)(L+d+1)), the finite-L optimum",
    ),
    "bayes_mc_closed_form": ("Prop. 2", "the Bayes MSE on subspaces is (d/n)σ0²σZ²/(σ0²+σZ²)"),
    "gmm_beta_below": ("§3.4, Fig. 3 (case 3)", "on Gaussian mixtures the trained softmax has |β| < 1/σZ² (Eq. 8)"),
    "near_bayes": ("§3.2-3.3, Fig. 3", "the trained network nearly achieves the Bayes MSE (test within tolerance)"),
}

#: phase_diagram_checks.parquet: one row per (statement, case, model, point).
CHECK_COLUMNS = {
    "statement": "string",
    "case": "string",
    "model": "string",  # "oracle" for the Bayes check
    "point": "string",
    "L": "int64",
    "sigma_z2": "float64",
    "value": "float64",  # what was measured
    "value_se": "float64",
    "reference": "float64",  # the theory (or the bound) at this point
    "tolerance": "float64",  # |value - reference| (or value - bound) allowed
    "holds": "bool",
    "detail": "string",
}

SUMMARY_COLUMNS = {
    "statement": "string",
    "case": "string",
    "model": "string",
    "points": "int64",  # points checked
    "holds": "int64",  # points where it holds
    "fraction": "float64",
    "source": "string",
    "text": "string",
}


def _row(statement, r, model, value, se, reference, tolerance, holds, detail) -> dict:
    return dict(
        statement=statement,
        case=r.case,
        model=model,
        point=r.point,
        L=int(r.L),
        sigma_z2=float(r.sigma_z2),
        value=float(value),
        value_se=float(se),
        reference=float(reference),
        tolerance=float(tolerance),
        holds=bool(holds),
        detail=detail,
    )


def check_points(table, tolerances) -> object:
    """The per-point checks (CHECK_COLUMNS) from phase_diagram.parquet (``table``: seed means, their SE and seeds).

    ``tolerances``: {"seed_rate" (or a fixed "k_seed"), "k_mc", "float_rel", "near_bayes"}, each {"value",
    "reason"}. With ``seed_rate`` a seed mean's band is Student's t at that false-alarm rate for the point's seeds
    (the claims' rule, verdict.seed_k)."""
    import pandas as pd

    from ..verdict import seed_k

    k_mc = float(tolerances["k_mc"]["value"])
    rel = float(tolerances["float_rel"]["value"])
    near = float(tolerances["near_bayes"]["value"])
    out, oracle_done = [], set()
    for r in table.itertuples():
        if r.case == "subspace" and r.model == "linear":
            k_seed = (
                float(tolerances["k_seed"]["value"])
                if "k_seed" in tolerances
                else seed_k(tolerances["seed_rate"], int(r.seeds))
            )
            tol = k_seed * r.alpha_beta_se
            gap = abs(r.alpha_beta - r.gamma_star)
            out.append(
                _row(
                    "alphabeta_gamma_star", r, r.model, r.alpha_beta, r.alpha_beta_se, r.gamma_star, tol,
                    bool(gap <= tol),
                    f"αβ {r.alpha_beta:.4f} ± {r.alpha_beta_se:.2g} vs γ*({r.L}) {r.gamma_star:.4f}: "
                    f"{gap / r.alpha_beta_se if r.alpha_beta_se else math.inf:.2f} SE",
                )
            )  # fmt: skip
        if r.case == "subspace" and (r.case, r.point) not in oracle_done:  # once per point: the oracle has no model
            oracle_done.add((r.case, r.point))
            tol = k_mc * r.bayes_mc_se + rel * r.bayes_theory
            gap = abs(r.bayes_mc - r.bayes_theory)
            out.append(
                _row(
                    "bayes_mc_closed_form", r, "oracle", r.bayes_mc, r.bayes_mc_se, r.bayes_theory, tol,
                    bool(gap <= tol),
                    f"Monte Carlo {r.bayes_mc:.5f} ± {r.bayes_mc_se:.2g} ({r.fresh_prompts} prompts) vs closed "
                    f"form {r.bayes_theory:.5f}: {gap / r.bayes_mc_se if r.bayes_mc_se else math.inf:.2f} SE",
                )
            )  # fmt: skip
        if r.case == "gmm" and r.model == "softmax":
            bound = r.beta_heuristic
            out.append(
                _row(
                    "gmm_beta_below", r, r.model, r.abs_beta_max, math.nan, bound, 0.0, bool(r.abs_beta_max < bound),
                    f"max over seeds |β| {r.abs_beta_max:.4f} vs 1/σZ² {bound:.4f}",
                )
            )  # fmt: skip
        bound = r.bayes_mse * (1 + near)
        out.append(
            _row(
                "near_bayes", r, r.model, r.test_mse, r.test_se, r.bayes_mse, near * r.bayes_mse,
                bool(r.test_mse <= bound),
                f"test {r.test_mse:.5f} = {100 * (r.test_ratio - 1):.1f}% above Bayes {r.bayes_mse:.5f} "
                f"({r.bayes_source}); bound +{100 * near:.0f}%",
            )
        )  # fmt: skip
    df = pd.DataFrame(out, columns=list(CHECK_COLUMNS)).astype(CHECK_COLUMNS)
    return df


def summarise_checks(checks) -> object:
    """The fraction of the grid where each statement holds, per (statement, case, model) (SUMMARY_COLUMNS)."""
    import pandas as pd

    rows = []
    for (statement, case, model), g in checks.groupby(["statement", "case", "model"], sort=False):
        source, text = STATEMENTS[statement]
        k = int(g["holds"].sum())
        rows.append(
            dict(
                statement=statement,
                case=case,
                model=model,
                points=len(g),
                holds=k,
                fraction=k / len(g),
                source=source,
                text=text,
            )
        )
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS)).astype(SUMMARY_COLUMNS)


def _verdict_names():
    """Claim, Stats and fmt of the verdict machinery."""
    from ..verdict import Claim, Stats, fmt

    return Claim, Stats, fmt


def claims(tables, settings, scale, tol) -> list:
    """One claims row per (statement, case, model) of the phase diagram: reproduced when the statement holds at
    every grid point where it was checked; the fraction and the failing points are reported. No rows without the
    study's tables (opt-in)."""
    Claim, Stats, fmt = _verdict_names()
    summ, checks = tables.get("phase_diagram_summary"), tables.get("phase_diagram_checks")
    if summ is None or summ.empty:
        return []
    out = []
    for r in summ.itertuples():
        c = Claim(
            f"phase_diagram_{r.statement}_{r.case}_{r.model}",
            f"{r.source} ({SOURCE})",
            f"{r.case}/{r.model}: {r.text}, at every point of the phase-diagram grid (its reference at each point "
            "from theory at that point's settings)",
            "Phase diagram figure; phase_diagram_checks.parquet, phase_diagram_summary.parquet",
            paper_value="holds at the paper's point",
        )
        failing = []
        if checks is not None:
            sel = checks[
                (checks["statement"] == r.statement) & (checks["case"] == r.case) & (checks["model"] == r.model)
            ]
            failing = list(sel.loc[~sel["holds"], "point"])
        c.measured(
            Stats([r.fraction]),
            f"{r.holds} of {r.points} points",
            f"holds at {r.holds} of {r.points} points ({fmt(100 * r.fraction, 3)}%)",
        )
        c.tol("every point", 1.0, "a statement with a theory reference at every point holds at every point")
        out.append(c.decide(bool(r.holds == r.points), "fails at " + ", ".join(failing[:8])))
    return out
