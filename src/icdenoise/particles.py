"""Training-free estimators on noisy context (beyond the paper: the 2026 follow-up's two-stage empirical Bayes).

All on torch tensors, vectorised over prompts (and over particles), with the context Y (B, L, n) noisy:

- :func:`gaussian_nw`: Nadaraya–Watson with the Gaussian kernel of variance h, k(q, y) = exp(−‖q − y‖²/2h),
  written out in full (the ‖q‖², −2⟨q, y⟩ and ‖y‖² terms; ‖q‖² cancels in the normalisation but is kept so the
  logits are the kernel's), normalised by a stable log-sum-exp (softmax). A dot-product softmax equals it only
  where the token norms are fixed (the sphere).
- one attention step: x̂ = NW_{σ_Z²}(x̃) over Y, the posterior mean under the noise-blurred empirical prior.
- the best scaled identity x̂ = α NW_{1/β}(x̃): α exact for each β (a quadratic, as in landscape.py), β by Brent.
- the two-stage estimator: Stage 1, K particle steps y ← y + η (NW_h(y) − y) of the context over itself
  (self-attention among the particles, fixed bandwidth h); Stage 2, x̃ attends to the particles at σ_Z².

Every MSE is per component, ‖x̂ − x‖²/n.
"""

from __future__ import annotations

import numpy as np
import torch

#: Prompts per chunk of the (b, M, L) kernel tensors (4 x 2000 x 2000 float32 = 64 MB).
CHUNK_ELEMENTS = 16_000_000


def _t(a, dtype) -> torch.Tensor:
    return (a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))).to(dtype)


def gaussian_logits(q: torch.Tensor, Y: torch.Tensor, h) -> torch.Tensor:
    """−‖q_i − y_t‖²/2h = (2⟨q_i, y_t⟩ − ‖q_i‖² − ‖y_t‖²)/2h for q (B, M, n), Y (B, L, n): (B, M, L).

    ``h`` a float or a (B, 1, 1) tensor (a bandwidth per prompt)."""
    qq = (q * q).sum(-1, keepdim=True)  # (B, M, 1)
    yy = (Y * Y).sum(-1).unsqueeze(1)  # (B, 1, L)
    logits = torch.baddbmm(qq + yy, q, Y.transpose(1, 2), beta=-1.0, alpha=2.0)  # (B, M, L)
    return logits.mul_(0.5 / h) if not isinstance(h, torch.Tensor) else logits * (0.5 / h)


def gaussian_nw(q: torch.Tensor, Y: torch.Tensor, h, values: torch.Tensor | None = None) -> torch.Tensor:
    """Nadaraya–Watson Σ_t V_t k_h(q, Y_t) / Σ_t k_h(q, Y_t), Gaussian kernel of variance h: (B, M, n)."""
    w = torch.softmax(gaussian_logits(q, Y, h), dim=-1)  # (B, M, L), stable log-sum-exp
    return torch.bmm(w, Y if values is None else values)


def one_step(Y, x_query, sigma_z2: float, dtype=torch.float32) -> torch.Tensor:
    """One attention step on the noisy context at the noise bandwidth: NW_{σ_Z²}(x̃) over Y, (B, n)."""
    Y, q = _t(Y, dtype), _t(x_query, dtype)
    return gaussian_nw(q.unsqueeze(1), Y, sigma_z2).squeeze(1)


def particle_trajectory(Y, h, eta, K: int, dtype=torch.float32):
    """Stage 1: the particles after k = 0..K steps y ← y + η (NW_h(y) − y) over themselves; yields (B, L, n).

    ``h``, ``eta`` floats or (B,) tensors: several (h, η) pairs run as one batch by repeating the prompts."""
    P = _t(Y, dtype).clone()
    h = h if not isinstance(h, torch.Tensor) else h.to(dtype).view(-1, 1, 1)
    eta = eta if not isinstance(eta, torch.Tensor) else eta.to(dtype).view(-1, 1, 1)
    yield P
    for _ in range(int(K)):
        target = gaussian_nw(P, P, h)  # (B, L, n)
        P = P + eta * (target - P)
        yield P


def two_stage_errors(Y, x_query, x_target, sigma_z2: float, h, eta, K: int, dtype=torch.float32) -> np.ndarray:
    """Per-prompt MSE of Stage 2 (x̃ attends to the particles at σ_Z²) after every k = 0..K: (K+1, B) float64.

    k = 0 is one step on the raw noisy context. ``h``, ``eta``: floats or (B,) per-prompt tensors."""
    q = _t(x_query, dtype).unsqueeze(1)  # (B, 1, n)
    x = _t(x_target, torch.float64)
    out = np.empty((int(K) + 1, q.shape[0]))
    for k, P in enumerate(particle_trajectory(Y, h, eta, K, dtype)):
        est = gaussian_nw(q, P, sigma_z2).squeeze(1).double()  # (B, n)
        out[k] = (((est - x) ** 2).sum(-1) / x.shape[-1]).numpy()
    return out


def two_stage_grid(Y, x_query, x_target, sigma_z2: float, hs, etas, K: int, dtype=torch.float32) -> np.ndarray:
    """Per-prompt Stage-2 MSE for every (h, η) and k = 0..K: (len(hs), len(etas), K+1, B), one batched trajectory.

    The grid is folded into the prompt axis (prompts repeated per pair) and cut in chunks of prompts so the
    (b, L, L) kernel stays within :data:`CHUNK_ELEMENTS`: no Python loop over grid points or prompts."""
    Y, q, x = _t(Y, dtype), _t(x_query, dtype), _t(x_target, dtype)
    B, L, _ = Y.shape
    pairs = [(h, e) for h in hs for e in etas]
    G = len(pairs)
    h_all = torch.tensor([p[0] for p in pairs], dtype=dtype).repeat_interleave(B)  # (G*B,)
    e_all = torch.tensor([p[1] for p in pairs], dtype=dtype).repeat_interleave(B)
    Yr, qr, xr = (a.repeat(G, *([1] * (a.dim() - 1))) for a in (Y, q, x))  # (G*B, ...)
    step = max(1, CHUNK_ELEMENTS // (L * L))
    parts = [
        two_stage_errors(
            Yr[s : s + step],
            qr[s : s + step],
            xr[s : s + step],
            sigma_z2,
            h_all[s : s + step],
            e_all[s : s + step],
            K,
            dtype,
        )
        for s in range(0, G * B, step)
    ]  # chunks of the (G*B) axis, not of the grid
    err = np.concatenate(parts, axis=1)  # (K+1, G*B)
    return err.reshape(K + 1, len(hs), len(etas), B).transpose(1, 2, 0, 3)


def gaussian_readout_moments(Y, x_query, x_target, betas, dtype=torch.float64):
    """Prompt means of ‖v(β)‖², ⟨v(β), x⟩ and ‖x‖², v(β) = NW_{1/β}(x̃) over Y, for every β: ((nβ,), (nβ,), float)."""
    Y, q, x = _t(Y, dtype), _t(x_query, dtype), _t(x_target, dtype)
    betas = torch.as_tensor(np.asarray(betas, np.float64), dtype=dtype).reshape(-1)
    logits = gaussian_logits(q.unsqueeze(1), Y, 1.0)  # (B, 1, L) at β = 1
    w = torch.softmax(betas.view(1, -1, 1) * logits, dim=-1)  # (B, nβ, L)
    v = torch.bmm(w, Y)  # (B, nβ, n)
    vv = (v * v).sum(-1).mean(0)
    vx = (v * x.unsqueeze(1)).sum(-1).mean(0)
    return vv.double().numpy(), vx.double().numpy(), float((x * x).sum(-1).mean())


def optimal_scaled_gaussian(Y, x_query, x_target, beta_bounds, xatol=1e-4) -> dict:
    """Best x̂ = α NW_{1/β}(x̃) on these prompts: α* = E⟨v, x⟩/E‖v‖² exact, β by Brent in ``beta_bounds``.

    The Gaussian-kernel counterpart of landscape.optimal_scaled_identity. Returns {"alpha", "beta", "mse"}."""
    from scipy.optimize import minimize_scalar

    n = np.shape(x_target)[-1]

    def profile(beta):
        vv, vx, xx = gaussian_readout_moments(Y, x_query, x_target, [beta])
        return float((xx - vx[0] ** 2 / vv[0]) / n)

    res = minimize_scalar(profile, bounds=tuple(beta_bounds), method="bounded", options=dict(xatol=xatol))
    vv, vx, _ = gaussian_readout_moments(Y, x_query, x_target, [res.x])
    return dict(alpha=float(vx[0] / vv[0]), beta=float(res.x), mse=float(res.fun))


def scaled_gaussian_errors(Y, x_query, x_target, alpha: float, beta: float, dtype=torch.float64) -> np.ndarray:
    """Per-prompt MSE of x̂ = α NW_{1/β}(x̃) over Y: (B,) float64."""
    est = alpha * one_step(Y, x_query, 1.0 / beta, dtype).double()
    x = _t(x_target, torch.float64)
    return (((est - x) ** 2).sum(-1) / x.shape[-1]).numpy()
