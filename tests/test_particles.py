"""Training-free estimators on noisy context: the full Gaussian kernel, particle steps, two stages, scaled fit."""

import numpy as np
import torch

from icdenoise import particles as pt
from icdenoise.noisy_tasks import sample_noisy_prompts

GMM = dict(p=3, R=1.0, sigma0_2=0.02, sigma_z2=0.1)


def _naive_nw(q, Y, h):
    d2 = ((q[:, :, None, :] - Y[:, None, :, :]) ** 2).sum(-1)  # (B, M, L)
    w = np.exp(-(d2 - d2.min(-1, keepdims=True)) / (2 * h))
    return (w / w.sum(-1, keepdims=True)) @ Y


def test_gaussian_nw_is_the_full_kernel_and_stable_at_large_norms():
    rng = np.random.default_rng(0)
    Y = 30.0 + rng.standard_normal((4, 50, 5))  # norms ~67: exp(‖y‖²/2h) alone would overflow
    q = 30.0 + rng.standard_normal((4, 3, 5))
    got = pt.gaussian_nw(torch.as_tensor(q), torch.as_tensor(Y), 0.05).numpy()
    np.testing.assert_allclose(got, _naive_nw(q, Y, 0.05), rtol=1e-9, atol=1e-9)
    assert np.isfinite(got).all()
    # not a dot-product softmax: off the sphere the norm term changes the weights
    dot = torch.softmax(torch.as_tensor(q) @ torch.as_tensor(Y).transpose(1, 2) / 0.05, -1) @ torch.as_tensor(Y)
    assert np.abs(dot.numpy() - got).max() > 1e-3


def test_stage_one_steps_and_the_grid_agree_with_one_trajectory():
    b = sample_noisy_prompts("gmm", 6, 1, 4, 15, **GMM)
    traj = list(pt.particle_trajectory(b.X, 0.3, 0.0, 2, torch.float64))
    np.testing.assert_array_equal(traj[-1].numpy(), b.X.astype(np.float64))  # η = 0: no motion
    P = torch.as_tensor(b.X, dtype=torch.float64)
    step = P + 0.5 * (pt.gaussian_nw(P, P, 0.3) - P)
    np.testing.assert_allclose(list(pt.particle_trajectory(b.X, 0.3, 0.5, 1, torch.float64))[1].numpy(), step.numpy())
    grid = pt.two_stage_grid(b.X, b.x_query, b.x_target, 0.1, [0.2, 0.4], [0.5, 1.0], 3, torch.float64)
    assert grid.shape == (2, 2, 4, 6)
    one = pt.two_stage_errors(b.X, b.x_query, b.x_target, 0.1, 0.4, 0.5, 3, torch.float64)
    np.testing.assert_allclose(grid[1, 0], one, rtol=1e-12)
    x1 = pt.one_step(b.X, b.x_query, 0.1, torch.float64).numpy()
    np.testing.assert_allclose(grid[0, 1, 0], ((x1 - b.x_target) ** 2).sum(-1) / 4, rtol=1e-9)  # K = 0: one step
    assert not np.allclose(grid[1, 1, 3], grid[1, 1, 0])


def test_chunked_grid_equals_unchunked(monkeypatch):
    b = sample_noisy_prompts("gmm", 5, 2, 4, 10, **GMM)
    full = pt.two_stage_grid(b.X, b.x_query, b.x_target, 0.1, [0.3], [0.5, 1.0], 2, torch.float64)
    monkeypatch.setattr(pt, "CHUNK_ELEMENTS", 300)  # 3 prompts a chunk: chunks straddle the (h, η) pairs
    np.testing.assert_allclose(pt.two_stage_grid(b.X, b.x_query, b.x_target, 0.1, [0.3], [0.5, 1.0], 2,
                                                 torch.float64), full, rtol=1e-12)  # fmt: skip


def test_scaled_gaussian_fit_beats_the_noise_bandwidth_on_other_prompts():
    fit = sample_noisy_prompts("gmm", 200, 3, 8, 40, **GMM)
    test = sample_noisy_prompts("gmm", 200, 4, 8, 40, **GMM)
    best = pt.optimal_scaled_gaussian(fit.X, fit.x_query, fit.x_target, (0.5, 40.0))
    assert 0.5 < best["beta"] < 40 and best["alpha"] > 0
    tuned = pt.scaled_gaussian_errors(test.X, test.x_query, test.x_target, best["alpha"], best["beta"]).mean()
    plain = pt.scaled_gaussian_errors(test.X, test.x_query, test.x_target, 1.0, 1 / 0.1).mean()
    assert tuned < plain
    vv, vx, xx = pt.gaussian_readout_moments(fit.X, fit.x_query, fit.x_target, [best["beta"]])
    assert abs((xx - vx[0] ** 2 / vv[0]) / 8 - best["mse"]) < 1e-12
