"""α–β landscapes of scaled-identity attention (Appendix F, Fig. 6)."""

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from icdenoise.landscape import (
    alpha_beta_landscape,
    alpha_beta_landscape_linear,
    linear_gamma_star,
    optimal_scaled_identity,
)
from icdenoise.models import linear_attention, scaled_identity_weights, softmax_attention
from icdenoise.tasks import sample_prompts


@pytest.fixture(scope="module")
def gmm():
    b = sample_prompts("gmm", 96, 1, n=8, L=60, p=4, R=1.0, sigma0_2=0.02, sigma_z2=0.1)
    return torch.as_tensor(b.X).double(), torch.as_tensor(b.x_query).double(), torch.as_tensor(b.x_target).double()


def _direct_mse(model, X, xq, xt, alpha, beta):
    W_KQ, W_PV = scaled_identity_weights(X.shape[-1], alpha, beta, dtype=torch.float64)
    f = softmax_attention if model == "softmax" else linear_attention
    return float(((f(X, xq, W_KQ, W_PV) - xt) ** 2).sum(-1).mean() / X.shape[-1])


def test_softmax_grid_matches_direct_evaluation(gmm):
    X, xq, xt = gmm
    alphas = np.linspace(-2, 2, 21)
    betas = np.linspace(-12, 12, 17)
    ls = alpha_beta_landscape(X.float(), xq.float(), xt.float(), alphas, betas, chunk_prompts=10)
    assert ls.mse.shape == (len(betas), len(alphas))
    rng = np.random.default_rng(0)
    for ib, ia in zip(rng.integers(0, len(betas), 6), rng.integers(0, len(alphas), 6), strict=True):
        direct = _direct_mse(
            "softmax", X.float().double(), xq.float().double(), xt.float().double(), alphas[ia], betas[ib]
        )
        assert ls.mse[ib, ia] == pytest.approx(direct, rel=1e-5)
    # chunking does not change the result; α* is the exact row optimum
    ls1 = alpha_beta_landscape(X, xq, xt, alphas, betas, chunk_prompts=1000)
    np.testing.assert_allclose(ls1.mse, alpha_beta_landscape(X, xq, xt, alphas, betas, chunk_prompts=7).mse, rtol=1e-12)
    for ib in range(len(betas)):
        a = ls1.alpha_star[ib]
        assert ls1.mse_star[ib] == pytest.approx(_direct_mse("softmax", X, xq, xt, a, betas[ib]), rel=1e-9)
        assert ls1.mse_star[ib] <= ls1.mse[ib].min() + 1e-15
        assert ls1.mse_at(a, ib) == pytest.approx(ls1.mse_star[ib], rel=1e-12)
    # float32 heavy work (float64 accumulation) agrees to ~1e-6
    ls32 = alpha_beta_landscape(X, xq, xt, alphas, betas, dtype=torch.float32)
    np.testing.assert_allclose(ls32.mse, ls1.mse, rtol=1e-5)
    gm = ls1.grid_min
    assert gm["mse"] == ls1.mse.min() and ls1.mse[gm["i_beta"], gm["i_alpha"]] == gm["mse"]


def test_linear_grid_matches_direct_and_depends_on_alpha_beta_product(gmm):
    X, xq, xt = gmm
    alphas = np.linspace(-2, 2, 9)
    betas = np.array([-1.0, -0.25, 0.0, 0.5, 2.0])
    ls = alpha_beta_landscape_linear(X, xq, xt, alphas, betas)
    for ib, ia in [(0, 1), (1, 7), (2, 3), (3, 5), (4, 8)]:
        assert ls.mse[ib, ia] == pytest.approx(_direct_mse("linear", X, xq, xt, alphas[ia], betas[ib]), rel=1e-9)
    # (α, β) = (1, 0.5) and (0.5, 1) have the same product
    a2 = alpha_beta_landscape_linear(X, xq, xt, [1.0, 0.5], [0.5, 1.0]).mse
    assert a2[0, 0] == pytest.approx(a2[1, 1], rel=1e-12)
    g, m = linear_gamma_star(X, xq, xt)
    assert m == pytest.approx(_direct_mse("linear", X, xq, xt, g, 1.0), rel=1e-9)
    assert np.isnan(ls.alpha_star[2]) and ls.alpha_star[3] == pytest.approx(g / 0.5)


def test_grid_argmin_within_one_step_of_scipy_optimum(gmm):
    X, xq, xt = gmm
    # α must be resolved finely: the valley is tilted (α*(β) varies) and flat in β, so a coarse α grid
    # moves the 2-D argmin along the valley by more than one β step.
    alphas = np.linspace(0.0, 2.0, 161)
    betas = np.linspace(0.0, 15.0, 61)
    ls = alpha_beta_landscape(X, xq, xt, alphas, betas)
    res = minimize(
        lambda p: _direct_mse("softmax", X, xq, xt, p[0], p[1]),
        x0=[1.0, 10.0],  # the heuristic point α = 1, β = 1/σZ²
        method="Nelder-Mead",
        options=dict(xatol=1e-4, fatol=1e-10, maxiter=500),
    )
    a_opt, b_opt = res.x
    da, db = alphas[1] - alphas[0], betas[1] - betas[0]
    assert abs(ls.grid_min["alpha"] - a_opt) <= da + 1e-12
    assert abs(ls.grid_min["beta"] - b_opt) <= db + 1e-12
    assert ls.grid_min["mse"] >= res.fun - 1e-12
    # with α solved exactly per grid β the (unimodal) profile's argmin brackets the optimum: always within one step
    assert abs(ls.valley_min["beta"] - b_opt) <= db + 1e-12
    # the 1-D profile search (α solved exactly) finds the same optimum
    opt = optimal_scaled_identity(X, xq, xt, (0.5, 15.0), xatol=1e-6)
    assert opt["mse"] == pytest.approx(res.fun, rel=1e-7)
    assert opt["beta"] == pytest.approx(b_opt, abs=1e-2) and opt["alpha"] == pytest.approx(a_opt, abs=1e-3)


def test_sign_symmetry(gmm):
    """MSE(−α, −β; X) = MSE(α, β; −X), so on data closed under X -> −X the grid is exactly symmetric.

    The symmetry holds in distribution when each task's token law is symmetric (subspace, sphere);
    for a finite sample it is only approximate, and for the gmm it fails (−X has centres −µ).
    """
    X, xq, xt = gmm
    grid = np.linspace(-3, 3, 13)
    bgrid = np.linspace(-9, 9, 11)
    flipped = alpha_beta_landscape(-X, xq, xt, grid, bgrid).mse
    plain = alpha_beta_landscape(X, xq, xt, grid, bgrid).mse
    np.testing.assert_allclose(plain[::-1, ::-1], flipped, rtol=1e-12)
    Xs, qs, ts = torch.cat([X, -X]), torch.cat([xq, xq]), torch.cat([xt, xt])
    sym = alpha_beta_landscape(Xs, qs, ts, grid, bgrid).mse
    np.testing.assert_allclose(sym, sym[::-1, ::-1], rtol=1e-12)
    lin = alpha_beta_landscape_linear(X, xq, xt, grid, bgrid).mse
    np.testing.assert_allclose(lin, lin[::-1, ::-1], rtol=1e-12)
    # sphere (symmetric token law): approximately symmetric on a finite sample
    b = sample_prompts("sphere", 300, 2, n=8, L=60, d=3, R=1.0, sigma_z2=0.1)
    sph = alpha_beta_landscape(b.X, b.x_query, b.x_target, grid, bgrid)
    np.testing.assert_allclose(sph.mse, sph.mse[::-1, ::-1], rtol=0.1)
    assert sph.mse[::-1, ::-1].min() == pytest.approx(sph.mse.min(), rel=0.05)


def test_rejects_bad_shapes(gmm):
    X, xq, xt = gmm
    with pytest.raises(ValueError):
        alpha_beta_landscape(X, xq[:, :3], xt, [1.0], [1.0])
    with pytest.raises(ValueError):
        alpha_beta_landscape(X, xq, xt, [], [1.0])
