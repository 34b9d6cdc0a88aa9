"""The depth study (beyond the paper): the K-layer models, their options, the run plan, the theory, the config checks,
the claims (each row with a wrong number that flips it) and the CLI. Tiny problems: the file takes seconds."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from icdenoise import models
from icdenoise.claims import depth as depth_claims
from icdenoise.denoisers.depth import DepthLinear, DepthSoftmax, check_options
from icdenoise.studies import depth
from icdenoise.tasks import sample_prompts
from icdenoise.train import TrainConfig, train
from icdenoise.verdict import FAILED, REPRODUCED, Scale

REPO = Path(__file__).resolve().parents[1]
GMM = dict(p=3, R=1.0, sigma0_2=0.02, sigma_z2=0.1)


def _batch(P=40, n=6, L=12, seed=0, case="gmm"):
    params = GMM if case == "gmm" else dict(d=3, sigma0_2=2.0, sigma_z2=1.0)
    return sample_prompts(case, P, seed, n=n, L=L, **params)


def _t(a):
    return torch.as_tensor(a, dtype=torch.float64)


# ----------------------------------------------------------------------------- the models


@pytest.mark.parametrize("family", ["linear", "softmax"])
def test_one_layer_without_residual_is_the_papers_model(family):
    """K = 1, λ held at 0: the paper's initial draw (W_KQ then W_PV) and the paper's x̂ (Eq. 11 / Eq. 12)."""
    m = models.get(f"depth_{family}", {"layers": 1, "residual": False})
    p = m.init(6, torch.Generator().manual_seed(5), torch.float64)
    W_KQ, W_PV = models.init_weights(6, torch.Generator().manual_seed(5), torch.float64)
    assert torch.equal(p["W_KQ"][0], W_KQ) and torch.equal(p["W_PV"][0], W_PV) and float(p["lam"][0]) == 0.0
    b = _batch()
    X, q = _t(b.X), _t(b.x_query)
    ours = m.predict(X, q, p)
    paper = models.attention(family, X, q, W_KQ=W_KQ, W_PV=W_PV)
    torch.testing.assert_close(ours, paper, rtol=1e-12, atol=1e-12)
    assert m.frozen == ("lam",) and models.get(f"depth_{family}", {"layers": 1}).frozen == ()


def test_tied_softmax_is_energy_descent_of_eq16():
    """Tied softmax layers with λ = 1 − g and W_PV = g αI are K steps of Eq. 16 (energy.attention_iterate)."""
    from icdenoise.energy import attention_iterate

    b, n, g, K = _batch(), 6, 0.4, 3
    W_KQ, W_PV = 4.0 * torch.eye(n, dtype=torch.float64), 0.9 * torch.eye(n, dtype=torch.float64)
    m = models.get("depth_softmax", {"layers": K, "tied": True})
    p = {"W_KQ": W_KQ[None], "W_PV": g * W_PV[None], "lam": torch.tensor([1 - g], dtype=torch.float64)}
    ours = m.predict(_t(b.X), _t(b.x_query), p)
    ref = attention_iterate(_t(b.X), _t(b.x_query), W_KQ, W_PV, K, g)
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)
    assert m.trajectory(_t(b.X), _t(b.x_query), p).shape == (K + 1, b.X.shape[0], n)


def test_untied_linear_layers_apply_the_product_polynomial_of_S():
    """Untied linear layers with W_PV⁽ᵏ⁾ W_KQ⁽ᵏ⁾ = c_k I apply Π_k (λ_k + c_k S) x̃ (the theory's product form)."""
    b, n = _batch(case="subspace"), 6
    lam, c = np.array([0.3, -0.2, 1.1]), np.array([0.5, 0.7, -0.4])
    eye = torch.eye(n, dtype=torch.float64)
    p = {"W_KQ": torch.stack([eye] * 3), "W_PV": torch.stack([ck * eye for ck in c]), "lam": _t(lam)}
    ours = models.get("depth_linear", {"layers": 3, "tied": False}).predict(_t(b.X), _t(b.x_query), p)
    S = models.context_moment(_t(b.X))
    torch.testing.assert_close(ours, depth.product_apply(S, _t(b.x_query), lam, c), rtol=1e-12, atol=1e-12)
    # the same polynomial expanded in powers of S
    coef = np.polynomial.polynomial.polyfromroots([]) * 1.0
    for lk, ck in zip(lam, c, strict=True):
        coef = np.polynomial.polynomial.polymul(coef, [lk, ck])
    F = depth.power_features(S.numpy(), b.x_query, 3)
    np.testing.assert_allclose(np.einsum("j,bjn->bn", coef, F), ours.numpy(), rtol=1e-10, atol=1e-12)


def test_parameters_tied_and_untied():
    """Tied: one set (T = 1) for every layer; untied: K sets, each its own."""
    assert DepthSoftmax(layers=4, tied=True).shapes(5) == {"W_KQ": (1, 5, 5), "W_PV": (1, 5, 5), "lam": (1,)}
    assert DepthLinear(layers=4, tied=False).shapes(5) == {"W_KQ": (4, 5, 5), "W_PV": (4, 5, 5), "lam": (4,)}
    assert DepthLinear(layers=3, tied=False).size(5) == 3 * 50 + 3


@pytest.mark.parametrize(
    "options, words",
    [
        ({"depth": 2}, "unknown depth model option(s) depth"),
        ({"layers": 0}, "layers must be an integer >= 1"),
        ({"layers": 2.5}, "layers must be an integer >= 1"),
        ({"tied": "yes"}, "tied must be a boolean"),
        ({"residual": 1}, "residual must be a boolean"),
    ],
)
def test_bad_options_are_named(options, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        check_options(options)
    with pytest.raises(ValueError, match="depth model option"):
        TrainConfig(model="depth_softmax", epochs=1, model_options=options)


def test_registry_instances_per_options():
    a = models.get("depth_softmax", {"layers": 2})
    assert a is models.get("depth_softmax", {"layers": 2}) and a is not models.get("depth_softmax", {"layers": 3})
    assert a.K == 2 and a.tied and a.residual and models.get("depth_softmax").K == 1


@pytest.mark.parametrize("family", ["linear", "softmax"])
def test_trained_one_layer_reference_equals_the_papers_run(family):
    """Training K = 1, λ = 0 by autograd gives the paper model's run (torch kernel, same seed) to float rounding,
    and λ stays exactly 0."""
    b = _batch(P=72)
    tr, te = b.subset(slice(0, 48)), b.subset(slice(48, None))
    kw = dict(epochs=3, batch_size=16, seed=7, lr=0.01)
    ours = train(tr, te, TrainConfig(model=f"depth_{family}", model_options={"residual": False}, **kw), kernel="torch")
    paper = train(tr, te, TrainConfig(model=family, **kw), kernel="torch")
    np.testing.assert_allclose(ours.test_mse, paper.test_mse, rtol=1e-5)
    np.testing.assert_allclose(ours.params["W_KQ"][0], paper.W_KQ, atol=1e-6)
    assert float(ours.params["lam"][0]) == 0.0
    learned = train(tr, te, TrainConfig(model=f"depth_{family}", model_options={"layers": 2}, **kw), kernel="torch")
    assert float(learned.params["lam"][0]) != 0.0 and learned.info["lam"] == learned.info["lam_0"]


def test_per_layer_summary():
    m = DepthSoftmax(layers=2, tied=False)
    p = {k: v[None].numpy() if False else v.numpy() for k, v in m.init(4, torch.Generator().manual_seed(0)).items()}
    s = m.summary(p)
    assert {"lam_0", "lam_1", "alpha_0", "alpha_1", "beta_1", "dist_KQ_0", "alpha", "beta"} <= set(s)
    assert s["alpha"] == pytest.approx((s["alpha_0"] + s["alpha_1"]) / 2)


# ----------------------------------------------------------------------------- the plan


def _config():
    cfg = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
    cfg["depth"] = {**yaml.safe_load((REPO / "config" / "config.yaml").read_text())["depth"], **cfg["depth"]}
    return cfg


def test_plan_reproduces_the_figure3_runs():
    """At the config's L: every variant and seed, the one-layer reference with its Figure 3 run's data and train
    seeds, then the Figure 3 runs themselves; elsewhere (L sweep) no Figure 3 runs."""
    from icdenoise.runs import plan_runs

    cfg = _config()
    runs = depth.plan(cfg, case="gmm", family="softmax", L=cfg["L"])
    seeds = cfg["depth"]["seeds"]
    variants = depth.variants(cfg)
    assert len(runs) == (len(variants) + 1) * len(seeds)
    assert len(variants) == 1 + sum(1 if K == 1 else len(cfg["depth"]["tied"]) for K in cfg["depth"]["layers"])
    fig3 = {r.seed: r for r in plan_runs(cfg, "training_dynamics", case="gmm", models=["softmax"], seeds=seeds)}
    for r in runs:
        if r.study == "training_dynamics":
            assert r.seeds == fig3[r.seed].seeds and r.model == "softmax"
            continue
        assert r.seeds["data"] == fig3[r.seed].seeds["data"]
        one = r.tags["K"] == 1 and not r.tags["residual"]
        assert (r.seeds["train"] == fig3[r.seed].seeds["train"]) is one
    swept = depth.plan(cfg, case="subspace", family="linear", L=20)
    assert all(r.study == "depth" and r.settings["L"] == 20 for r in swept)
    assert ("subspace", "linear", 20) in depth.jobs(cfg) and ("gmm", "linear", 20) not in depth.jobs(cfg)


# ----------------------------------------------------------------------------- the theory


def test_polynomial_fit_recovers_known_coefficients():
    b = _batch(P=200, case="subspace")
    S = models.context_moment(_t(b.X)).numpy()
    F = depth.power_features(S, b.x_query, 2)
    c = np.array([0.2, -0.5, 0.3])
    target = np.einsum("j,bjn->bn", c, F)
    np.testing.assert_allclose(depth.fit_polynomial(F, target), c, rtol=1e-8, atol=1e-10)


def test_product_fit_of_degree_one_is_the_least_squares_line():
    """Π over one factor is λ + c S: the product fit reaches the degree-1 least-squares optimum."""
    b = _batch(P=200, case="subspace")
    S = models.context_moment(_t(b.X)).numpy()
    F = depth.power_features(S, b.x_query, 1)
    c = depth.fit_polynomial(F, b.x_target)
    lam, cc = depth.fit_product(S, b.x_query, b.x_target, 1)
    np.testing.assert_allclose([lam[0], cc[0]], c, rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------------------- config checks


@pytest.mark.parametrize(
    "patch, words",
    [
        ({"layers": [0, 2]}, "depth.layers"),
        ({"tied": ["yes"]}, "depth.tied"),
        ({"families": ["mlp"]}, "depth.families"),
        ({"frobnicate": 1}, "depth.frobnicate"),
    ],
)
def test_bad_depth_config_is_named(patch, words):
    from icdenoise.config import ConfigError, check_config

    cfg = _config()
    cfg["depth"].update(patch)
    with pytest.raises(ConfigError, match=words.replace(".", r"\.")):
        check_config(cfg, REPO / "workflow" / "schemas" / "config.schema.yaml")


def test_an_enabled_depth_study_needs_its_cases():
    from icdenoise.config import relation_errors

    cfg = _config()
    del cfg["cases"]["sphere"]
    cfg["depth"].update(enabled=True, cases=["sphere", "gmm"])
    assert [e for e in relation_errors(cfg) if "depth.cases" in e and "'sphere'" in e]
    cfg["depth"]["enabled"] = False  # off: its jobs keep only configured cases
    assert not [e for e in relation_errors(cfg) if "depth" in e]
    assert all(c != "sphere" for c, _, _ in depth.jobs(cfg))


def test_the_config_and_the_full_grid_example_pass():
    from icdenoise.config import check_config

    schema = REPO / "workflow" / "schemas" / "config.schema.yaml"
    check_config(_config(), schema)
    full = copy.deepcopy(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
    full["depth"].update(yaml.safe_load((REPO / "config" / "examples" / "depth_full.yaml").read_text())["depth"])
    check_config(full, schema)
    assert full["depth"]["layers"] == [1, 2, 3, 4] and full["depth"]["tied"] == [True, False]


# ----------------------------------------------------------------------------- claims


def _settings():
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["train"] = {k: v for k, v in cfg["train"].items() if k != "threads"}
    return cfg


def _row(case, family, estimator, K, tied, gain, gain_se, L=500, **kw):
    base = dict(case=case, L=L, family=family, estimator=estimator, K=K, tied=tied, seeds=3, mse=0.3,
                mse_se=0.001, bayes_mse=0.25, mse_over_bayes=1.2, excess_over_bayes=0.05, excess_se=0.001,
                gain=gain, gain_se=gain_se, gain_se_seeds=gain_se / 2, gain_se_prompts=gain_se / 2,
                gamma_over_alpha=math.nan, lam_mean=math.nan)  # fmt: skip
    return {**base, **kw}


def _tables(**change):
    """Synthetic depth tables where every claim holds; ``change`` = {claim id: a wrong number that flips it}."""
    summ = pd.DataFrame(
        [
            _row("gmm", "softmax", "trained", 2, True, 0.004, 0.0005),
            _row("gmm", "softmax", "trained", 3, True, change.get("gmm_K3", 0.003), 0.0004),
            _row("gmm", "softmax", "hopfield", 3, None, 0.0008, 0.0001, gamma_over_alpha=0.5),
            _row("gmm", "softmax", "hopfield", 2, None, 0.0007, 0.0001, gamma_over_alpha=0.5),
            _row("subspace", "linear", "trained", 2, True, change.get("sub_L20", 0.02), 0.001, L=20),
            _row("subspace", "linear", "trained", 2, True, 0.001, 0.0005),
        ]
    )
    runs = pd.DataFrame(
        [
            dict(
                case="gmm",
                family="softmax",
                L=500,
                K=1,
                residual=False,
                seed=s,
                fresh_mse=0.0300 + 1e-7 * s,
                fig3_fresh_mse=0.0300 + change.get("fig3_shift", 0.0),
                test_mse=0.03,
                fig3_test_mse=0.03,
                fig3_weight_diff=1e-6,
            )  # fmt: skip
            for s in range(3)
        ]
    )
    layers = pd.DataFrame(
        [
            dict(
                case="gmm",
                family="softmax",
                L=500,
                K=2,
                tied=True,
                residual=True,
                seed=s,
                layer=0,
                lam=0.45,
                alpha=0.5,
                beta=5.0,
                dist_KQ=change.get("dist", 0.1),
                dist_PV=0.1,
                gamma_over_alpha=change.get("step", 0.55),
            )  # fmt: skip
            for s in range(3)
        ]
    )
    return {"depth": summ, "depth_runs": runs, "depth_layers": layers}


def _verdicts(tables):
    s = _settings()
    return {c["id"]: c for c in depth_claims.claims(tables, s, Scale(s), s["claims"]["tolerances"])}


#: every claim row of the synthetic tables, and the wrong number that flips it
FLIPS = {
    "depth_K1_reproduces_fig3_gmm_softmax": {"fig3_shift": 0.001},
    "depth_gain_gmm_softmax_K3_tied": {"gmm_K3": 0.0008},
    "depth_gmm_at_least_hopfield": {"gmm_K3": -0.001},
    "depth_subspace_gain_shrinks_with_L": {"sub_L20": 0.0015},
    "depth_tied_softmax_energy_descent_gmm": {"step": 0.8},
}


def test_claim_rows_hold_on_good_tables():
    v = _verdicts(_tables())
    assert set(v) == set(FLIPS) | {"depth_gain_gmm_softmax_K2_tied", "depth_gain_subspace_linear_K2_tied"}
    weak = "depth_gain_subspace_linear_K2_tied"  # gain 0.001 ± 0.0005: 2 SE, not more than k = 3
    assert v[weak]["verdict"] == FAILED and "2.0 SE" in v[weak]["note"]
    assert all(c["verdict"] == REPRODUCED for i, c in v.items() if i != weak), {k: c["note"] for k, c in v.items()}


@pytest.mark.parametrize("claim_id", sorted(FLIPS))
def test_each_claim_flips_on_a_wrong_number(claim_id):
    assert _verdicts(_tables(**FLIPS[claim_id]))[claim_id]["verdict"] == FAILED


def test_energy_descent_needs_scaled_identities():
    assert _verdicts(_tables(dist=0.6))["depth_tied_softmax_energy_descent_gmm"]["verdict"] == FAILED


def test_no_depth_tables_no_rows():
    s = _settings()
    assert depth_claims.claims({}, s, Scale(s), s["claims"]["tolerances"]) == []


# ----------------------------------------------------------------------------- CLI and API


def test_cli_trains_one_depth_model_and_prints_each_layer(capsys):
    from icdenoise.cli import main

    argv = ["train", "--case", "gmm", "--model", "depth_softmax", "--layers", "2", "--no-tied", "--seeds", "0"]
    small = ["--epochs", "2", "--n", "6", "--p", "3", "--L", "10", "--n-train", "32", "--n-test", "16"]
    assert main(argv + small + ["--batch-size", "16", "--prompts", "64"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.strip().startswith("layer ")]
    assert len(lines) == 2 and all("lambda" in x and "alpha" in x and "beta" in x for x in lines)
    assert main(["train", "--case", "gmm", "--model", "softmax", "--layers", "2", *small]) == 2
    assert "--layers and --tied need --model depth_linear or depth_softmax" in capsys.readouterr().err


def test_api_depth_model_keeps_its_options():
    import icdenoise as icd

    run = icd.train_case("gmm", "depth_linear", seeds=[1], epochs=2, n=6, p=3, L=10, n_train=32, n_test=16,
                         batch_size=16, prompts=64, model_options={"layers": 3, "tied": False})  # fmt: skip
    row = run.rows.iloc[0]
    assert row["layers"] == 3 and not row["tied"] and {"lam_0", "lam_2", "alpha_1", "beta_2"} <= set(run.rows)
    m = run.models[1]
    b = _batch(P=8)
    assert m.predict(b.X, b.x_query).shape == (8, 6)
    assert m.summary()["lam_2"] == pytest.approx(row["lam_2"])
    with pytest.raises(icd.SettingsError if hasattr(icd, "SettingsError") else ValueError, match="layers"):
        icd.train_case("gmm", "depth_linear", epochs=1, model_options={"layers": 0})


# ----------------------------------------------------------------------------- the fused kernels


@pytest.mark.parametrize(
    "options",
    [
        {"layers": 1, "residual": False},
        {"layers": 3, "tied": True},
        {"layers": 3, "tied": False},
        {"layers": 2, "tied": False, "residual": False},
    ],
)
def test_fused_depth_kernels_equal_autograd_in_float64(options):
    """kernels_depth's gradients, batch losses and per-prompt MSEs equal the torch path's autograd in float64."""
    from icdenoise.train_steps import _Kernel, _Split

    b, R = _batch(P=30, n=6, L=11), 2
    m = models.get("depth_softmax", options)
    W = torch.stack([m.flatten(m.init(6, torch.Generator().manual_seed(s), torch.float64)) for s in range(R)])
    if m.residual:
        W[:, -m.T :] = torch.tensor([0.3, -0.7, 0.5][: m.T], dtype=torch.float64)
    fused = _Split([b, b], m, torch.device("cpu"), np.dtype(np.float64), True, 0)
    plain = _Split([b, b], m, torch.device("cpu"), np.dtype(np.float64), False, R * 8)
    idx = torch.stack([torch.randperm(30, generator=torch.Generator().manual_seed(r))[:8] for r in range(R)])
    G_f, G_t = torch.zeros_like(W), torch.zeros_like(W)
    loss_f = _Kernel(m, "fused", 100).grads(fused, idx, W, G_f)
    loss_t = _Kernel(m, "torch", 100).grads(plain, idx, W, G_t)
    torch.testing.assert_close(G_f, G_t, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(loss_f, loss_t.numpy(), rtol=1e-12)
    assert float(G_t.abs().max()) > 1e-3  # a gradient that could differ
    if not m.residual:
        assert float(G_f[:, -m.T :].abs().max()) == 0.0  # λ held
    np.testing.assert_allclose(
        _Kernel(m, "fused", 100).mse(fused, W, R), _Kernel(m, "torch", 100).mse(plain, W, R), rtol=1e-12
    )


@pytest.mark.parametrize("options", [{"layers": 3, "tied": False}, {"layers": 2}])
def test_fused_and_torch_training_agree_to_float_rounding(options):
    """A float32 run on the fused kernel (epoch in one compiled call) and on the torch path agree to rounding."""
    b = _batch(P=120, n=8, L=30)
    tr, te = b.subset(slice(0, 96)), b.subset(slice(96, None))
    cfg = TrainConfig(model="depth_softmax", epochs=4, batch_size=16, seed=3, model_options=options)
    f, t = train(tr, te, cfg, kernel="fused"), train(tr, te, cfg, kernel="torch")
    assert f.kernel == "fused" and t.kernel == "torch"
    np.testing.assert_allclose(f.test_mse, t.test_mse, rtol=1e-5)
    for k in f.params:
        np.testing.assert_allclose(f.params[k], t.params[k], atol=2e-6)
