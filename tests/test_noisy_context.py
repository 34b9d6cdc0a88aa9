"""Noisy-context study: its claims (each can fail: flip tests), the summary, the 1-D illustration, the config checks."""

import math

import pandas as pd
import pytest
import yaml

from icdenoise.claims import noisy_context as nc_claims
from icdenoise.config import relation_errors, schema_errors
from icdenoise.studies import noisy_context as nc
from icdenoise.verdict import FAILED, REPRODUCED, UNCHECKABLE
from workflow_utils import REPO

TOL = {"k_mc": {"value": 3, "reason": "3 SE"}}


def _summary(**change) -> pd.DataFrame:
    """A gmm summary at 2 σ levels and 2 L where every statement holds; ``change``: column -> values per row."""
    rows = []
    for sweep, sz, L, one, two, gain, hor in (
        ("sigma", 0.05, 100, 2.0, 1.5, 0.025, 1.0),
        ("sigma", 0.2, 100, 3.0, 1.6, 0.28, 4.0),
        ("L", 0.1, 50, 2.5, 1.8, 0.07, 2.0),
        ("L", 0.1, 2000, 2.5, 1.2, 0.13, 2.0),
    ):
        rows.append(
            dict(
                case="gmm",
                sweep=sweep,
                sigma_z2=sz,
                L=L,
                bayes_mse=sz,
                one_step_ratio=one,
                clean_one_step_ratio=1.1,
                scaled_gaussian_ratio=1.4,
                two_stage_ratio=two,
                best_h=4 * sz,
                best_eta=0.5,
                best_K=int(2 * hor),
                best_horizon=hor,
                two_stage_excess=(two - 1) * sz,
                two_stage_excess_se=0.01 * sz,
                one_step_excess=(one - 1) * sz,
                one_step_excess_se=0.01 * sz,
                gain=gain,
                gain_se=0.001,
                num_prompts=64,
            )  # fmt: skip
        )
    df = pd.DataFrame(rows)
    for col, values in change.items():
        df[col] = values
    return df


def _verdicts(summary) -> dict:
    return {c["id"]: c["verdict"] for c in nc_claims.claims({"noisy_context_summary": summary}, {}, None, TOL)}


def test_every_statement_holds_on_a_table_where_it_holds():
    v = _verdicts(_summary())
    assert {k: x for k, x in v.items() if k != "noisy_skip_beats_no_skip"} == {
        f"noisy_{name}_gmm": REPRODUCED
        for name in (
            "one_step_gap_persists",
            "two_stage_beats_one_step",
            "gain_grows_with_noise",
            "horizon_grows_with_noise",
            "two_stage_gap_shrinks_with_L",
        )  # fmt: skip
    }
    assert v["noisy_skip_beats_no_skip"] == UNCHECKABLE
    assert nc_claims.claims({}, {}, None, TOL) == []  # study off: no rows


@pytest.mark.parametrize(
    ("claim", "change"),
    [
        ("one_step_gap_persists", dict(one_step_ratio=[2.0, 3.0, 2.5, 1.0], one_step_excess=[0.05, 0.4, 0.15, 0.0])),
        ("two_stage_beats_one_step", dict(gain=[0.001, 0.28, 0.07, 0.13])),
        ("gain_grows_with_noise", dict(gain=[0.025, 0.05, 0.07, 0.13])),
        ("horizon_grows_with_noise", dict(best_horizon=[4.0, 1.0, 2.0, 2.0])),
        ("two_stage_gap_shrinks_with_L", dict(two_stage_excess=[0.05, 0.12, 0.08, 0.08])),
    ],
)
def test_each_claim_fails_when_its_statement_does_not_hold(claim, change):
    v = _verdicts(_summary(**change))
    assert v[f"noisy_{claim}_gmm"] == FAILED


def test_summary_picks_the_best_two_stage_point_and_its_paired_gain():
    rows = []
    for est, h, eta, K, mse, gain in (
        ("bayes", None, None, 0, 1.0, 1.0), ("one_step", None, None, 0, 2.0, 0.0),
        ("clean_one_step", None, None, 0, 1.2, 0.8), ("scaled_gaussian", None, None, 0, 1.5, 0.5),
        ("two_stage", 0.4, 0.5, 0, 2.0, 0.0), ("two_stage", 0.4, 0.5, 3, 1.3, 0.7),
        ("two_stage", 0.8, 1.0, 2, 1.4, 0.6),
    ):  # fmt: skip
        rows.append(dict(case="gmm", sweep="sigma", sigma_z2=0.1, sigma_c2=0.1, L=100, estimator=est, h=h, eta=eta, K=K,
                         alpha=None, beta=None, mse=mse, mse_se=0.01, bayes_mse=1.0, excess=mse - 1.0, excess_se=0.01,
                         gain=gain, gain_se=0.02, num_prompts=64))  # fmt: skip
    s = nc.summarise(pd.DataFrame(rows).astype(nc.COLUMNS)).iloc[0]
    assert (s.best_h, s.best_eta, s.best_K, s.best_horizon) == (0.4, 0.5, 3, 1.5)
    assert (s.one_step_ratio, s.two_stage_ratio, s.gain) == (2.0, 1.3, 0.7)


def test_illustration_one_step_falls_short_and_two_stages_reach_the_mode():
    ill = nc.illustration(L=24, mode=2.0, sigma2=0.5, query=1.4, h=0.5, eta=0.5, steps=40, seed=0)
    est = dict(
        zip(ill.loc[ill["kind"] == "estimate", "name"], ill.loc[ill["kind"] == "estimate", "value"], strict=True)
    )
    assert len(ill[(ill["kind"] == "particle") & (ill["name"] == "after")]) == 24
    assert est["bayes"] == pytest.approx(2.0 * math.tanh(2.0 * 1.4 / 0.5))
    assert abs(est["two_stage"] - 2.0) < abs(est["one_step"] - 2.0)


def test_config_checks_name_the_bad_noisy_context_keys():
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["noisy_context"]["sigma_z2_factors"] = [0.5, 2.0]
    cfg["noisy_context"]["beta_factors"] = [3.0, 1.0]
    errors = " ".join(relation_errors(cfg))
    assert "noisy_context.sigma_z2_factors" in errors and "noisy_context.beta_factors" in errors
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    cfg["noisy_context"]["bandwidth"] = 1.0
    cfg["noisy_context"]["etas"] = [0.5, 2.0]
    errors = " ".join(schema_errors(cfg, schema))
    assert "bandwidth" in errors and "noisy_context.etas" in errors
