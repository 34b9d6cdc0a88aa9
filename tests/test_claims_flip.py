"""Every claim can fail: a documented wrong number flips each claim id, and each row's false-alarm column is what
its rule gives (simulated).

The base tables are a compact copy of a paper-scale run (tests/data/claims_tables: the columns the claims read,
from ``results/paper/tables`` of the main checkout), with two documented edits that make every claim hold (the
real run fails case1_softmax_similar and hopfield_one_step_gmm) and a synthetic gap study. :data:`FLIPS` holds,
for every claim and sanity id, the wrong number that must turn it "not reproduced".
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from icdenoise import verdict as vd
from icdenoise.studies import claims as cl
from workflow_utils import PAPER_CONFIG

DATA = Path(__file__).parent / "data" / "claims_tables"
PAPER = yaml.safe_load(PAPER_CONFIG.read_text())
KEYS = ("n", "L", "n_train", "n_test", "seeds", "dataset", "models", "cases", "context_sweep", "dim_shift")


def settings() -> dict:
    s = copy.deepcopy({k: PAPER[k] for k in (*KEYS, "dam_energy", "claims")})
    s["train"] = {k: v for k, v in PAPER["train"].items() if k != "threads"}
    s["gap_study"] = {"online_L_cases": ["gmm"]}
    return s


def gap_tables() -> dict:
    """A synthetic gap study of gmm/softmax at L = 500 (the summary's three parts) and its online rows at two L."""
    est, optim, approx = 0.0030, 0.0004, 0.0016
    total = est + optim + approx
    summ = pd.DataFrame([dict(case="gmm", model="softmax", L=500, N_ref=800, seeds=3, bayes_mse=0.023,
                              bayes_se=3e-5, total_gap=total, total_gap_se=2e-4, est_gap=est, est_gap_se=2e-4,
                              optim_gap=optim, optim_gap_se=5e-5, approx_gap=approx, approx_gap_se=4e-5,
                              est_share=est / total, optim_share=optim / total, approx_share=approx / total,
                              slope=-1.0, slope_se=0.2)])  # fmt: skip
    rows = [
        dict(case="gmm", model="softmax", training="online", L=Lv, seed=seed, bayes_mse=0.023,
             excess_mse=e + 1e-6 * seed, excess_se=5e-5)
        for Lv, e in ((100, 0.0050), (2000, 0.0013))
        for seed in range(3)
    ]  # fmt: skip
    return {"gap_study_summary": summ, "gap_study": pd.DataFrame(rows)}


def base_tables() -> dict:
    """The paper-scale tables, edited so that every claim holds (the true values each flip departs from)."""
    t = {p.stem: pd.read_parquet(p) for p in sorted(DATA.glob("*.parquet"))}
    tw = t["trained_weights"]
    lin = (tw["case"] == "subspace") & (tw["model"] == "linear")
    soft = (tw["case"] == "subspace") & (tw["model"] == "softmax")
    # edit 1: softmax 5% above linear, seed by seed (the run: 11.6%, case1_softmax_similar fails)
    tw.loc[soft, "test_mse"] = tw.loc[lin, "test_mse"].to_numpy() * 1.05
    # edit 2: no K steps beat one step on gmm (the run: K = 3, gamma = 0.5 alpha does, by 7 SE)
    hi = t["hopfield_iterations"]
    hi["delta_vs_one_step"] = hi["delta_vs_one_step"].clip(lower=0.0)
    return {**t, **gap_tables()}


def _rows(t, table, **eq):
    df = t[table]
    m = np.ones(len(df), bool)
    for k, v in eq.items():
        m &= (df[k] == v).to_numpy()
    return m


def _scale(table, col, factor, **eq):
    def f(t):
        t[table].loc[_rows(t, table, **eq), col] *= factor

    return f


def _set(table, col, value, **eq):
    def f(t):
        t[table].loc[_rows(t, table, **eq), col] = value(t) if callable(value) else value

    return f


def _mean_to(table, col, target, **eq):
    """Shift the seeds of a column so that their mean is ``target(t)`` (their spread kept)."""

    def f(t):
        m = _rows(t, table, **eq)
        v = t[table].loc[m, col]
        t[table].loc[m, col] = v - v.mean() + target(t)

    return f


def _bayes(t, case, split="fresh"):
    b = t["baselines"]
    return float(b.loc[(b["case"] == case) & (b["estimator"] == "bayes") & (b["split"] == split), "mse"].mean())


def _to_point(case, point):
    """The trained_mean row of a landscape replaced by another point (its α, β and MSE)."""

    def f(t):
        lp = t["landscape_points"]
        src = lp[(lp["case"] == case) & (lp["point"] == point)].iloc[0]
        m = (lp["case"] == case) & (lp["kind"] == "trained_mean")
        lp.loc[m, ["alpha", "beta", "mse"]] = [src["alpha"], src["beta"], src["mse"]]

    return f


def _worst_delta(case):
    def f(t):
        hi = t["hopfield_iterations"]
        i = hi[(hi["case"] == case) & (hi["K"] == 2)].index[0]
        hi.loc[i, "delta_vs_one_step"] = -10 * hi.loc[i, "delta_se"]

    return f


def _mc(case, est, factor=1.02):
    def f(t):
        b = t["baselines"]
        m = (b["case"] == case) & (b["estimator"] == est) & (b["split"] == "fresh")
        b.loc[m, "mse"] *= factor

    return f


def _fig4b_below(t):
    ds, orc = t["dim_shift"], t["dim_shift_oracles"]
    bayes = float(orc.loc[orc["eval_value"] == 8, "mse"].iloc[0])
    ds.loc[ds["eval_value"] == 8, "mse"] = 0.9 * bayes


def _fig4a_mse_below(t):
    bound = float(t["context_sweep_theory"].set_index("L").at[500, "finite_L_mse"])
    _mean_to("context_sweep", "fresh_mse", lambda _: 0.95 * bound, L=500)(t)


def _floors_equal(t):
    g = t["gap_study"]
    g.loc[g["L"] == 100, "excess_mse"] = g.loc[g["L"] == 2000, "excess_mse"].to_numpy()


#: Every claim and sanity id: (the documented wrong number, the perturbation of the tables).
FLIPS = {
    "case1_linear_alphabeta": (
        "αβ × 0.9",
        _scale("trained_weights", "alpha_beta", 0.9, case="subspace", model="linear"),
    ),
    "case1_linear_near_bayes": (
        "test MSE at 0.95 × Bayes (below Bayes)",
        _mean_to("trained_weights", "test_mse", lambda t: 0.95 / 3, case="subspace", model="linear"),
    ),
    "case1_linear_scaled_identity": (
        "dist_KQ = 0.5",
        _set("trained_weights", "dist_KQ", 0.5, case="subspace", model="linear"),
    ),
    "case1_softmax_beta": ("β × 3", _scale("trained_weights", "abs_beta", 3.0, case="subspace", model="softmax")),
    "case1_softmax_alpha": ("α × 0.5", _scale("trained_weights", "abs_alpha", 0.5, case="subspace", model="softmax")),
    "case1_softmax_similar": (
        "softmax test MSE 1.2 × linear",
        _scale("trained_weights", "test_mse", 1.2 / 1.05, case="subspace", model="softmax"),
    ),
    "case2_scaled_identity": ("dist_KQ = 0.5", _set("trained_weights", "dist_KQ", 0.5, case="sphere", model="softmax")),
    "case2_near_bayes": (
        "test MSE at 0.9 × Bayes (below Bayes; 0.95 is within 3.4 seed SE)",
        _mean_to("trained_weights", "test_mse", lambda t: 0.9 * _bayes(t, "sphere"), case="sphere", model="softmax"),
    ),
    "case2_valley": (
        "the heuristic point (α = 1, β = 10) in place of the trained one",
        _to_point("sphere", "heuristic"),
    ),
    "case3_alpha": ("α × 1.1", _scale("trained_weights", "abs_alpha", 1.1, case="gmm", model="softmax")),
    "case3_beta": ("β × 3", _scale("trained_weights", "abs_beta", 3.0, case="gmm", model="softmax")),
    "case3_beta_below": (
        "β at the Prop. 4 heuristic 1/(σ0²+σZ²) = 8.33",
        _mean_to("trained_weights", "abs_beta", lambda t: 1 / 0.12, case="gmm", model="softmax"),
    ),
    "case3_valley": ("the Prop. 4 heuristic point in place of the trained one", _to_point("gmm", "heuristic_prop4")),
    "gmm_train_below_bayes": (
        "train MSE at 1.02 × Bayes",
        _mean_to("trained_weights", "train_mse", lambda t: 1.02 * _bayes(t, "gmm"), case="gmm", model="softmax"),
    ),
    "prop2_subspace_bayes": ("Monte Carlo MSE × 1.02", _mc("subspace", "bayes")),
    "prop2_subspace_projection": ("Monte Carlo MSE × 1.02", _mc("subspace", "projection")),
    "zero_predictor_subspace": ("Monte Carlo MSE × 1.02", _mc("subspace", "zero")),
    "zero_predictor_sphere": ("Monte Carlo MSE × 1.02 (a sanity check)", _mc("sphere", "zero")),
    "zero_predictor_gmm": ("Monte Carlo MSE × 1.02", _mc("gmm", "zero")),
    "sphere_linear_shrinkage": ("Monte Carlo MSE × 1.02", _mc("sphere", "linear_shrinkage")),
    "prop3_sphere_bayes": ("Monte Carlo MSE × 1.02", _mc("sphere", "bayes")),
    "prop3_sphere_projection": ("Monte Carlo MSE × 1.02", _mc("sphere", "projection")),
    "prop4_gmm_bayes": ("Monte Carlo MSE × 1.02", _mc("gmm", "bayes")),
    "eq8_gmm_sigma0_to_0": ("Monte Carlo MSE × 1.02", _mc("gmm", "bayes_sigma0_to_0")),
    "sphere_bayes_below_linear": (
        "paired linear − Bayes = 0",
        _set("baselines", "delta_vs_bayes", 0.0, case="sphere", estimator="linear_shrinkage"),
    ),
    "fig4a_alphabeta_gamma_star": (
        "αβ = 1/3 at L = 20",
        _mean_to("context_sweep", "alpha_beta", lambda t: 1 / 3, L=20),
    ),
    "fig4a_mse_approaches_bound": ("MSE at L = 500 at 0.95 × MSE(500) (below the finite-L optimum)", _fig4a_mse_below),
    "fig4b_mild_loss": ("MSE at d = 8 at 0.9 × Bayes (below Bayes)", _fig4b_below),
    "fig5_one_step_vs_many": (
        "distance after 1 step = 1.0",
        _set("hopfield_trajectories", "dist_to_target", 1.0, step=1),
    ),
    "hopfield_one_step_subspace": ("K = 2 beats one step by 10 SE", _worst_delta("subspace")),
    "hopfield_one_step_sphere": ("K = 2 beats one step by 10 SE", _worst_delta("sphere")),
    "hopfield_one_step_gmm": ("K = 2 beats one step by 10 SE", _worst_delta("gmm")),
    "gap_split_gmm_softmax": (
        "estimation part 0 (fresh MSE at N = 800 on the floor)",
        _set("gap_study_summary", "est_gap", 0.0),
    ),
    "gap_floor_falls_with_L_gmm": ("the floor at L = 100 equal to that at L = 2000", _floors_equal),
}

#: Rows without a verdict (reported only): nothing to flip.
NO_VERDICT = {"case1_softmax_epsilon"}


@pytest.fixture(scope="module")
def base():
    tables = base_tables()
    return tables, {c["id"]: c for c in cl.evaluate_claims(tables, settings())}


def test_every_claim_holds_on_the_base_tables_and_every_id_has_a_flip(base):
    _, rows = base
    not_ok = {
        i: (c["verdict"], c["note"]) for i, c in rows.items() if i not in NO_VERDICT and c["verdict"] != vd.REPRODUCED
    }
    assert not not_ok
    assert set(rows) == set(FLIPS) | NO_VERDICT, set(rows) ^ (set(FLIPS) | NO_VERDICT)
    assert all(rows[i]["verdict"] == vd.NO_VERDICT and rows[i]["kind"] == vd.REPORTED for i in NO_VERDICT)
    assert rows["zero_predictor_sphere"]["kind"] == vd.SANITY


@pytest.mark.parametrize("cid", sorted(FLIPS))
def test_wrong_number_flips_the_verdict(base, cid):
    tables, rows = base
    perturbed = {k: v.copy(deep=True) for k, v in tables.items()}
    FLIPS[cid][1](perturbed)
    after = {c["id"]: c for c in cl.evaluate_claims(perturbed, settings())}
    assert rows[cid]["verdict"] == vd.REPRODUCED
    assert after[cid]["verdict"] == vd.FAILED, (FLIPS[cid][0], after[cid]["reproduced"], after[cid]["note"])
    assert after[cid]["note"]


#: The claims that quote a number of the paper: "not checkable" wherever the task differs from the paper's. Every
#: other claim has its reference from theory at the run's own settings or from the run's own tables.
PAPER_NUMBER = {
    "case1_softmax_beta",
    "case1_softmax_alpha",
    "case3_alpha",
    "case3_beta",
    "prop3_sphere_bayes",
    "prop3_sphere_projection",
    "prop4_gmm_bayes",
    "eq8_gmm_sigma0_to_0",
}


def other_settings() -> dict:
    """A task other than the paper's (n = 32, n_train = 1600), the paper's training recipe and seeds."""
    s = settings()
    s.update(n=32, n_train=1600)
    return s


@pytest.fixture(scope="module")
def other(base):
    tables, _ = base
    return {c["id"]: c for c in cl.evaluate_claims(tables, other_settings())}


def test_at_other_task_settings_only_paper_numbers_are_not_checkable(other):
    """The rule: a claim whose reference follows from theory at the run's own settings is checked there."""
    unchecked = {i for i, c in other.items() if c["verdict"] == vd.UNCHECKABLE}
    assert unchecked == PAPER_NUMBER
    assert all("n = 32 (paper 16)" in other[i]["note"] for i in PAPER_NUMBER)
    reproduced = {i for i, c in other.items() if c["verdict"] == vd.REPRODUCED}
    assert reproduced == set(FLIPS) - PAPER_NUMBER, reproduced ^ (set(FLIPS) - PAPER_NUMBER)
    # the reference of αβ is γ*(L) at the run's L, d and noise, no longer the paper's printed 0.327
    c = other["case1_linear_alphabeta"]
    assert c["paper_value"] == "γ*(500) = 0.3274" and c["paper_value_num"] == pytest.approx(500 / (3 * 509))
    assert "γ*(L)" in c["statement"] and "L = 500, d = 8" in c["statement"]
    assert "1600 training prompts" in other["gmm_train_below_bayes"]["statement"]


@pytest.mark.parametrize("cid", sorted(set(FLIPS) - PAPER_NUMBER))
def test_wrong_number_flips_the_verdict_at_other_settings(base, other, cid):
    """Each claim that is newly checkable away from the paper's task can fail there too."""
    tables, _ = base
    perturbed = {k: v.copy(deep=True) for k, v in tables.items()}
    FLIPS[cid][1](perturbed)
    after = {c["id"]: c for c in cl.evaluate_claims(perturbed, other_settings())}
    assert other[cid]["verdict"] == vd.REPRODUCED
    assert after[cid]["verdict"] == vd.FAILED, (FLIPS[cid][0], after[cid]["reproduced"], after[cid]["note"])
    assert after[cid]["note"]


def _simulate(rule: dict, draws: int, rng) -> float:
    """The rule's rate by simulation: seed means of normal seeds at the true value (t), or normal MC means (z)."""
    k, dof, sides, family = rule["k"], rule["dof"], rule["sides"], rule["family"]
    if math.isinf(dof):
        z = rng.standard_normal((draws, family))
        stat = z
    elif rule.get("pooled"):  # family groups of seeds, the variance pooled over the groups
        n = int(round(dof / family)) + 1
        x = rng.standard_normal((draws, family, n))
        sd = np.sqrt(((x - x.mean(-1, keepdims=True)) ** 2).sum((-1, -2)) / dof)
        stat = x.mean(-1) / (sd[:, None] / math.sqrt(n))
    else:
        n = int(round(dof)) + 1
        x = rng.standard_normal((draws, family, n))
        stat = x.mean(-1) / (x.std(-1, ddof=1) / math.sqrt(n))
    out = np.abs(stat) > k if sides == 2 else stat < -k
    return float(out.any(axis=1).mean())


def test_false_alarm_column_is_what_the_rule_gives(base):
    """20,000 draws of each rule at the true value: the simulated rate within 4 Monte Carlo SE of the column."""
    _, rows = base
    rng = np.random.default_rng(0)
    checked = 0
    for cid, c in rows.items():
        rate = c["false_alarm_rate"]
        if not np.isfinite(rate):
            assert c["false_alarm"].startswith("n/a"), cid
            continue
        sim = _simulate(c.rule, 20_000, rng)
        mc = math.sqrt(rate * (1 - rate) / 20_000)
        assert abs(sim - rate) <= 4 * mc + 1e-4, (cid, c.rule, rate, sim)
        checked += 1
    assert checked >= 20
    # the numbers: k = 3 with the SE from 6 and 3 seeds leaves the band 3.0% and 9.5% of the time
    assert vd.false_alarm_of(3.0, 5) == pytest.approx(0.030, abs=5e-4)
    assert vd.false_alarm_of(3.0, 2) == pytest.approx(0.095, abs=5e-4)
    assert vd.false_alarm_of(vd.t_k(0.01, 5), 5) == pytest.approx(0.01)


def test_flip_list_printed(base, capsys):
    """The flip list (id, perturbation, verdict before and after), for the record (``pytest -s`` prints it)."""
    tables, rows = base
    lines = []
    for cid in sorted(FLIPS):
        perturbed = {k: v.copy(deep=True) for k, v in tables.items()}
        FLIPS[cid][1](perturbed)
        after = {c["id"]: c for c in cl.evaluate_claims(perturbed, settings())}[cid]["verdict"]
        lines.append(f"{cid} | {FLIPS[cid][0]} | {rows[cid]['verdict']} -> {after}")
    print("\n".join(lines))
    assert len(lines) == len(FLIPS)
