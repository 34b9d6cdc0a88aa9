"""DAM energy of §4 (Eq. 15) and its gradient-descent iteration (Eq. 16)."""

import pytest
import torch

from icdenoise.energy import (
    attention_iterate,
    dam_energy,
    dam_energy_grad,
    dam_iterate,
    dam_step,
    mse_after_steps,
)
from icdenoise.models import init_weights, scaled_identity_weights, softmax_attention
from icdenoise.tasks import sample_prompts


def _gmm(num=64, n=6, L=30, seed=0):
    return sample_prompts("gmm", num, seed, n=n, L=L, p=3, R=1.0, sigma0_2=0.05, sigma_z2=0.1)


@pytest.fixture(scope="module")
def circle():
    """Figure 5 setting: n = 2, circle of radius 1, L = 20, σZ² = 0.1 (β = 1/σZ² = 10)."""
    return sample_prompts("sphere", 300, 5, n=2, d=1, R=1.0, sigma_z2=0.1, L=20)


@pytest.mark.parametrize("alpha,beta", [(1.0, 10.0), (1.4, 4.5), (-0.7, -2.0)])
def test_one_step_with_gamma_alpha_is_softmax_attention(alpha, beta):
    b = _gmm()
    W_KQ, W_PV = scaled_identity_weights(b.X.shape[-1], alpha, beta, dtype=torch.float64)
    X, xq = torch.as_tensor(b.X).double(), torch.as_tensor(b.x_query).double()
    expected = softmax_attention(X, xq, W_KQ, W_PV)
    torch.testing.assert_close(dam_step(xq, X, alpha, beta, gamma=alpha), expected, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(dam_iterate(xq, X, alpha, beta, alpha, 1), expected, rtol=1e-6, atol=1e-6)


def test_gradient_matches_autograd_for_single_and_many_states():
    b = _gmm(num=8)
    X = torch.as_tensor(b.X).double()
    g = torch.Generator().manual_seed(3)
    for shape in [(8, 6), (8, 5, 6)]:
        s = torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)
        E = dam_energy(s, X, alpha=1.3, beta=4.0)
        assert E.shape == shape[:-1]
        (auto,) = torch.autograd.grad(E.sum(), s)
        torch.testing.assert_close(dam_energy_grad(s.detach(), X, 1.3, 4.0), auto, rtol=1e-10, atol=1e-12)


def test_energy_value_matches_definition():
    b = _gmm(num=2, L=5)
    X = torch.as_tensor(b.X).double()
    s = torch.as_tensor(b.x_query).double()
    alpha, beta = 0.8, 3.0
    direct = torch.stack(
        [s[i] @ s[i] / (2 * alpha) - torch.log(torch.exp(beta * X[i] @ s[i]).sum()) / beta for i in range(2)]
    )
    torch.testing.assert_close(dam_energy(s, X, alpha, beta), direct)


def test_step_is_gradient_descent_and_energy_decreases():
    b = _gmm(num=128, seed=4)
    X, s = torch.as_tensor(b.X).double(), torch.as_tensor(b.x_query).double()
    alpha, beta = 1.0, 5.0
    # E is smooth with constant ≤ 1/α + β max‖X_t‖²; γ below 1/that guarantees monotone descent.
    gamma = 0.5 / (1 / alpha + beta * float((X**2).sum(-1).max()))
    torch.testing.assert_close(dam_step(s, X, alpha, beta, gamma), s - gamma * dam_energy_grad(s, X, alpha, beta))
    traj = dam_iterate(s, X, alpha, beta, gamma, 20, return_trajectory=True)
    assert traj.shape == (21, *s.shape)
    E = dam_energy(traj.transpose(0, 1), X, alpha, beta)  # (B, 21): 21 states per prompt
    assert (E[:, 1:] <= E[:, :-1] + 1e-12).all()
    assert (E[:, -1] < E[:, 0]).all()


def test_attention_iterate_with_scaled_identities_equals_dam_iterate():
    b = _gmm(num=32)
    X, xq = torch.as_tensor(b.X).double(), torch.as_tensor(b.x_query).double()
    alpha, beta = 1.2, 6.0
    W_KQ, W_PV = scaled_identity_weights(X.shape[-1], alpha, beta, dtype=torch.float64)
    for frac in (0.25, 0.5, 1.0):
        a = attention_iterate(X, xq, W_KQ, W_PV, 7, frac, return_trajectory=True)
        d = dam_iterate(xq, X, alpha, beta, frac * alpha, 7, return_trajectory=True)
        torch.testing.assert_close(a, d, rtol=1e-10, atol=1e-12)


def test_mse_after_steps_rows_scalar_and_matrix_agree():
    b = _gmm(num=32)
    n = b.X.shape[-1]
    rows = mse_after_steps(b, 1.2, 6.0, steps=(0, 1, 3), gamma_fracs=(0.5, 1.0))
    assert [(r["gamma_over_alpha"], r["K"]) for r in rows] == [
        (0.5, 0),
        (0.5, 1),
        (0.5, 3),
        (1.0, 0),
        (1.0, 1),
        (1.0, 3),
    ]
    W_KQ, W_PV = scaled_identity_weights(n, 1.2, 6.0, dtype=torch.float64)
    rows_m = mse_after_steps(b, W_PV, W_KQ, steps=(0, 1, 3), gamma_fracs=(0.5, 1.0))
    for r, q in zip(rows, rows_m, strict=True):
        assert r["gamma"] == pytest.approx(q["gamma"]) and r["mse"] == pytest.approx(q["mse"], rel=1e-10)
    # K = 0 is the noisy query; K = 1 with γ = α is the attention layer.
    X, xq, xt = torch.as_tensor(b.X).double(), torch.as_tensor(b.x_query).double(), torch.as_tensor(b.x_target).double()
    assert rows[0]["mse"] == pytest.approx(float(((xq - xt) ** 2).sum(-1).mean() / n))
    x1 = softmax_attention(X, xq, W_KQ, W_PV)
    assert rows[4]["mse"] == pytest.approx(float(((x1 - xt) ** 2).sum(-1).mean() / n), rel=1e-10)
    # absolute gammas are the same rows
    rows_g = mse_after_steps(b, 1.2, 6.0, gammas=(0.6, 1.2), steps=(0, 1, 3))
    assert [r["mse"] for r in rows_g] == pytest.approx([r["mse"] for r in rows])
    # general (non-identity) weights run too
    W_KQ_r, W_PV_r = init_weights(n, torch.Generator().manual_seed(0))
    rows_r = mse_after_steps(b, W_PV_r, W_KQ_r, steps=(0, 2))
    assert len(rows_r) == 6 and all(torch.isfinite(torch.tensor(r["mse"])) for r in rows_r)
    with pytest.raises(ValueError):
        mse_after_steps(b, W_PV_r, W_KQ_r, gammas=(0.1,))


def test_figure5_one_step_denoises(circle):
    """α = 1, β = 10, γ = α: one step is closer to the clean target than the noisy query (prompt mean)."""
    X, xq, xt = (
        torch.as_tensor(circle.X).double(),
        torch.as_tensor(circle.x_query).double(),
        torch.as_tensor(circle.x_target).double(),
    )
    s1 = dam_iterate(xq, X, 1.0, 10.0, 1.0, 1)
    err0 = ((xq - xt) ** 2).sum(-1).mean()
    err1 = ((s1 - xt) ** 2).sum(-1).mean()
    assert err1 < 0.8 * err0
    # ... and 50 steps are worse than one (iterating degrades the estimate, Fig. 5 right).
    s50 = dam_iterate(xq, X, 1.0, 10.0, 1.0, 50)
    assert ((s50 - xt) ** 2).sum(-1).mean() > 1.5 * err1


def test_figure5_iteration_becomes_query_independent(circle):
    """After 50 steps many queries of one prompt share an end point (an energy minimum); after 1 step almost none do."""
    X = torch.as_tensor(circle.X).double()
    B, L, n = X.shape
    m = 16
    g = torch.Generator().manual_seed(11)
    # m noisy queries per prompt, built from that prompt's own circle points
    idx = torch.randint(0, L, (B, m), generator=g)
    s0 = torch.gather(X, 1, idx[..., None].expand(-1, -1, n)) + 0.1**0.5 * torch.randn(
        B, m, n, generator=g, dtype=X.dtype
    )
    traj = dam_iterate(s0, X, 1.0, 10.0, 1.0, 50, return_trajectory=True)
    iu = torch.triu_indices(m, m, 1)

    def coincident_pairs(s):
        d = torch.cdist(s, s)[:, iu[0], iu[1]]
        return float((d < 1e-2).double().mean())

    assert coincident_pairs(traj[1]) < 0.02
    assert coincident_pairs(traj[50]) > 0.2
    # the end points are stationary: energy minima of Eq. 15
    grad = dam_energy_grad(traj[50], X, 1.0, 10.0).norm(dim=-1)
    assert float(grad.median()) < 1e-6
    # energy never increases along the γ = α iteration (it is a CCCP / majorise-minimise step)
    E = dam_energy(traj.permute(1, 0, 2, 3).reshape(B, -1, n), X, 1.0, 10.0).view(B, 51, m)
    assert (E[:, 1:] <= E[:, :-1] + 1e-10).all()
