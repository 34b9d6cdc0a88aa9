"""The fused softmax kernels' two paths (icdenoise.kernels_numba): one pass over the context (L <= TILED_ABOVE) and
tiles of tokens with an online (running-max) softmax (longer contexts), each against torch.autograd."""

import numpy as np
import pytest
import torch

from icdenoise import kernels_numba as kn
from icdenoise.models import attention


def _problem(n, L, P, dtype, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    XT = (rng.standard_normal((1, P, n, L)) / 2).astype(dtype)  # (R, P, n, L)
    q = rng.standard_normal((1, P, n)).astype(dtype)
    t = rng.standard_normal((1, P, n)).astype(dtype)
    W = (rng.standard_normal((1, 2, n, n)) * 0.3 * scale).astype(dtype)  # O(1) scores: non-uniform attention
    return XT, q, t, W


def _autograd(XT, q, t, W, idx):
    """Gradient of the batch's mean per-component MSE and the per-prompt MSEs, float64 autograd."""
    X = torch.from_numpy(XT[0, idx].astype(np.float64)).transpose(1, 2)  # (B, L, n) tokens as rows
    Wr = torch.from_numpy(W[0].astype(np.float64)).requires_grad_(True)
    qq, tt = (torch.from_numpy(a[0, idx].astype(np.float64)) for a in (q, t))
    err = (attention("softmax", X, qq, Wr[0], Wr[1]) - tt).square()
    (g,) = torch.autograd.grad(err.mean(), Wr)
    return g.numpy(), err.mean(-1).detach().numpy()


@pytest.mark.parametrize("L", [37, 500, 501, 777, 1300])
@pytest.mark.parametrize("n", [5, 16])
def test_grads_and_mse_match_autograd_float64(n, L):
    """Both paths (one pass at L <= 500, tiled above, partial last tile included): float64 gradients and MSEs
    equal autograd's to summation-order rounding (~1e-16 per operation; rtol 1e-10 catches any wrong term)."""
    B = 6
    XT, q, t, W = _problem(n, L, B, np.float64, scale=3.0)
    idx = np.arange(B)[None].astype(np.int64)
    G, loss = np.empty_like(W), np.zeros(1)
    kn.softmax_grads(XT, q, t, idx, W, G, np.float64(2 / (B * n)), loss)
    ref, ref_mse = _autograd(XT, q, t, W, idx[0])
    assert np.abs(ref).max() > 1e-3
    np.testing.assert_allclose(G[0], ref, rtol=1e-10, atol=1e-12 * np.abs(ref).max())
    mse = np.empty((1, B))
    kn.softmax_mse(XT, q, t, W, mse, 1)
    np.testing.assert_allclose(mse[0], ref_mse, rtol=1e-10)
    np.testing.assert_allclose(loss[0], ref_mse.mean(), rtol=1e-10)


@pytest.mark.parametrize("L", [300, 1300, 4000])
def test_grads_float32_close_to_float64_autograd(L):
    """float32 (polynomial exp, online rescaling on the tiled path) within float32 accuracy of float64 autograd:
    rtol 1e-4 leaves a margin of ~100 over the rounding of a few thousand float32 terms."""
    n, B = 16, 4
    XT, q, t, W = _problem(n, L, B, np.float32, seed=1, scale=3.0)
    idx = np.arange(B)[None].astype(np.int64)
    G, loss = np.empty_like(W), np.zeros(1)
    kn.softmax_grads(XT, q, t, idx, W, G, np.float32(2 / (B * n)), loss)
    ref, ref_mse = _autograd(XT, q, t, W, idx[0])
    np.testing.assert_allclose(G[0], ref, rtol=1e-4, atol=1e-6 * np.abs(ref).max())
    mse = np.empty((1, B), np.float32)
    kn.softmax_mse(XT, q, t, W, mse, 1)
    np.testing.assert_allclose(mse[0], ref_mse, rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("T", [32, 64, 256])
def test_tiled_forward_equals_one_pass(dtype, T):
    """At the same L the tiled forward (several tiles, a partial last one) gives the one-pass softmax weights,
    normaliser and output to rounding: the online rescaling loses nothing."""
    n, L = 7, 300
    XT, q, _, W = _problem(n, L, 1, dtype, seed=2, scale=4.0)
    X, qb = XT[0, 0], q[0, 0]
    outs = []
    for tiled in (False, True):
        k, v, out = (np.empty(n, dtype) for _ in range(3))
        s, ibuf, mx, tm = np.empty(L, dtype), np.empty(L, np.int32), np.empty(16, dtype), np.empty(L // T + 1, dtype)
        if tiled:
            z = kn._forward_tiled(X, qb, W[0, 0], W[0, 1], k, s, ibuf, mx, v, out, X, tm, T)
        else:
            z = kn._forward(X, qb, W[0, 0], W[0, 1], k, s, ibuf, mx, v, out, X)
        outs.append((s / z, z, out.copy()))
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    (p0, z0, o0), (p1, z1, o1) = outs
    assert p0.max() > 10 / L  # far from uniform: the running max matters
    np.testing.assert_allclose(p1, p0, rtol=rtol, atol=rtol * p0.max())
    np.testing.assert_allclose(z1, z0, rtol=rtol)
    np.testing.assert_allclose(o1, o0, rtol=rtol, atol=rtol * np.abs(o0).max())


def test_paths_switch_above_500_tokens():
    """The one-pass path runs up to TILED_ABOVE = 500 tokens (the paper's L: its tables bit for bit, checked by the
    sha256 of the smoke tables and bench_kernels.py's A/B), tiles of 16 KB above (256 tokens at n = 16, float32)."""
    assert kn.TILED_ABOVE == 500
    assert kn.tile_tokens(16, 4) == 256 and kn.tile_tokens(16, 8) == 128 and kn.tile_tokens(64, 8) == 32
