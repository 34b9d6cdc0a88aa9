"""α–β loss landscapes of scaled-identity attention (Appendix F, Fig. 6).

With W_KQ = βI and W_PV = αI softmax attention (Eq. 12) is x̂ = α v(β), v(β) = Σ_t softmax(β X x̃)_t X_t.
So the per-component MSE over prompts is a quadratic in α for each β:

    MSE(α, β) = (α² E‖v‖² − 2α E⟨v, x⟩ + E‖x‖²) / n,

exact, with the continuous optimum α*(β) = E⟨v, x⟩ / E‖v‖². We compute v(β) for all β at once (scores X x̃
once per prompt, softmax of β·scores as a (B, nβ, L) tensor, chunked over prompts to bound memory), and the
α-axis then costs nothing: no Python loop over grid points.

Linear attention (Eq. 11) with scaled identities is x̂ = αβ S x̃, S = XᵀX/L, so its landscape depends on
γ = αβ only and is the same kind of quadratic in γ.

Grid arrays are indexed [β, α] (rows β, columns α), i.e. shape (len(betas), len(alphas)).
Prompt inputs may be torch tensors or numpy arrays (``tasks.sample_prompts`` returns numpy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Landscape:
    """An α–β MSE grid and its minima (per-component MSE, prompt mean)."""

    alphas: np.ndarray  # (nα,)
    betas: np.ndarray  # (nβ,)
    mse: np.ndarray  # (nβ, nα)
    alpha_star: np.ndarray  # (nβ,) exact optimum over continuous α for each grid β
    mse_star: np.ndarray  # (nβ,) MSE at (alpha_star, β)
    grid_min: dict  # {"alpha", "beta", "mse", "i_beta", "i_alpha"}: argmin over the grid points
    moments: dict  # {"vv": (nβ,), "vx": (nβ,), "xx": float}, prompt means of ‖v‖², ⟨v,x⟩, ‖x‖²
    n: int = 1  # token dimension (the per-component divisor)

    @property
    def valley_min(self) -> dict:
        """Best grid β with α optimised continuously: {"alpha", "beta", "mse"}."""
        i = int(np.argmin(self.mse_star))
        return dict(alpha=float(self.alpha_star[i]), beta=float(self.betas[i]), mse=float(self.mse_star[i]))

    def mse_at(self, alpha: float, beta_index: int) -> float:
        """Exact MSE at any α on grid row ``beta_index``."""
        m = self.moments
        n = self.n
        return float((alpha**2 * m["vv"][beta_index] - 2 * alpha * m["vx"][beta_index] + m["xx"]) / n)


def _as_1d(values, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(values, dtype=np.float64)).reshape(-1)
    if t.numel() == 0:
        raise ValueError(f"{name} must not be empty")
    return t


def _check_inputs(X, x_query, x_target):
    X, x_query, x_target = (a if isinstance(a, torch.Tensor) else torch.as_tensor(a) for a in (X, x_query, x_target))
    if X.dim() != 3 or x_query.shape != (X.shape[0], X.shape[2]) or x_target.shape != x_query.shape:
        raise ValueError(
            f"need X (B, L, n), x_query and x_target (B, n); got {tuple(X.shape)}, "
            f"{tuple(x_query.shape)}, {tuple(x_target.shape)}"
        )
    return X, x_query, x_target


def _quadratic_landscape(alphas, betas, vv, vx, xx, n, scale=None) -> Landscape:
    """Assemble the grid from the per-β moments. ``scale`` (nβ,) maps α to the coefficient (β for linear)."""
    a = alphas.view(1, -1)
    c = a if scale is None else a * scale.view(-1, 1)  # coefficient multiplying v
    mse = (c**2 * vv.view(-1, 1) - 2 * c * vx.view(-1, 1) + xx) / n
    safe_vv = torch.where(vv > 0, vv, torch.ones_like(vv))
    c_star = torch.where(vv > 0, vx / safe_vv, torch.zeros_like(vx))
    mse_star = (xx - c_star * vx) / n
    if scale is None:
        alpha_star = c_star
    else:
        alpha_star = torch.where(
            scale != 0, c_star / torch.where(scale != 0, scale, 1.0), torch.full_like(c_star, np.nan)
        )
        mse_star = torch.where(scale != 0, mse_star, torch.full_like(mse_star, xx / n))
    flat = int(torch.argmin(mse))
    ib, ia = divmod(flat, mse.shape[1])
    grid_min = dict(alpha=float(alphas[ia]), beta=float(betas[ib]), mse=float(mse[ib, ia]), i_beta=ib, i_alpha=ia)
    return Landscape(
        alphas=alphas.numpy(),
        betas=betas.numpy(),
        mse=mse.numpy(),
        alpha_star=alpha_star.numpy(),
        mse_star=mse_star.numpy(),
        grid_min=grid_min,
        moments=dict(vv=vv.numpy(), vx=vx.numpy(), xx=float(xx)),
        n=n,
    )


def softmax_readout_moments(X, x_query, x_target, betas, chunk_prompts: int = 16, dtype=torch.float64):
    """Prompt means of ‖v(β)‖² and ⟨v(β), x⟩ for every β, and of ‖x‖²; v(β) = X softmax(β X x̃).

    Chunks of ``chunk_prompts`` prompts keep the (chunk, nβ, L) softmax tensor cache-sized (16 x 50 x 500 doubles
    = 3.2 MB). ``dtype`` float32 is several times faster on CPU and still accurate to ~1e-6 relative.
    """
    X, x_query, x_target = _check_inputs(X, x_query, x_target)
    betas = _as_1d(betas, "betas").to(dtype)
    B = X.shape[0]
    f64 = torch.float64  # accumulators are always float64; ``dtype`` is the dtype of the heavy (b, nβ, L) work
    vv = torch.zeros(len(betas), dtype=f64)
    vx = torch.zeros(len(betas), dtype=f64)
    xx = torch.zeros((), dtype=f64)
    step = max(1, int(chunk_prompts))
    for start in range(0, B, step):
        Xc = X[start : start + step].to(dtype)
        q = x_query[start : start + step].to(dtype)
        x = x_target[start : start + step].to(dtype)
        scores = torch.bmm(Xc, q.unsqueeze(-1)).squeeze(-1)  # (b, L), once per prompt
        p = torch.softmax(betas.view(1, -1, 1) * scores.unsqueeze(1), dim=-1)  # (b, nβ, L)
        v = torch.bmm(p, Xc)  # (b, nβ, n)
        vv += (v * v).sum(-1).to(f64).sum(0)
        vx += (v * x.unsqueeze(1)).sum(-1).to(f64).sum(0)
        xx += (x * x).sum(-1).to(f64).sum()
    return betas.to(f64), vv / B, vx / B, xx / B


def alpha_beta_landscape(
    X, x_query, x_target, alphas, betas, chunk_prompts: int = 16, dtype=torch.float64
) -> Landscape:
    """App. F: per-component MSE of softmax attention with W_KQ = βI, W_PV = αI on an α–β grid, (nβ, nα)."""
    alphas_t = _as_1d(alphas, "alphas")
    betas_t, vv, vx, xx = softmax_readout_moments(X, x_query, x_target, betas, chunk_prompts, dtype)
    return _quadratic_landscape(alphas_t, betas_t, vv, vx, xx, X.shape[-1])


def alpha_beta_landscape_linear(X, x_query, x_target, alphas, betas, dtype=torch.float64) -> Landscape:
    """Same grid for linear attention (Eq. 11), x̂ = αβ S x̃: a quadratic in γ = αβ.

    ``alpha_star`` is the optimal α = γ*/β for each grid β (NaN at β = 0).
    """
    X, x_query, x_target = _check_inputs(X, x_query, x_target)
    alphas_t = _as_1d(alphas, "alphas").to(dtype)
    betas_t = _as_1d(betas, "betas").to(dtype)
    Xd, q, x = X.to(dtype), x_query.to(dtype), x_target.to(dtype)
    # S x̃ = Xᵀ (X x̃) / L, without forming S
    u = torch.bmm(Xd.transpose(1, 2), torch.bmm(Xd, q.unsqueeze(-1))).squeeze(-1) / X.shape[1]
    vv = (u * u).sum(-1).mean().expand(len(betas_t)).clone()
    vx = (u * x).sum(-1).mean().expand(len(betas_t)).clone()
    xx = (x * x).sum(-1).mean()
    return _quadratic_landscape(alphas_t, betas_t, vv, vx, xx, X.shape[-1], scale=betas_t)


def linear_gamma_star(X, x_query, x_target) -> tuple[float, float]:
    """Exact optimum γ* = E⟨Sx̃, x⟩ / E‖Sx̃‖² of x̂ = γ S x̃ on these prompts, and its per-component MSE."""
    lin = alpha_beta_landscape_linear(X, x_query, x_target, [1.0], [1.0])
    m = lin.moments
    g = m["vx"][0] / m["vv"][0]
    return float(g), float((m["xx"] - g * m["vx"][0]) / lin.n)


def optimal_scaled_identity(
    X, x_query, x_target, beta_bounds: tuple[float, float], chunk_prompts: int = 64, xatol=1e-4
) -> dict:
    """Continuous optimum of softmax attention over (α, β) in ``beta_bounds``: Brent on β of the MSE at α*(β).

    Returns {"alpha", "beta", "mse"}. The α-direction is solved exactly, so this is a 1-D search.
    """
    from scipy.optimize import minimize_scalar

    def profile(beta):
        _, vv, vx, xx = softmax_readout_moments(X, x_query, x_target, [beta], chunk_prompts)
        return float((xx - vx[0] ** 2 / vv[0]) / X.shape[-1])

    res = minimize_scalar(profile, bounds=beta_bounds, method="bounded", options=dict(xatol=xatol))
    _, vv, vx, xx = softmax_readout_moments(X, x_query, x_target, [res.x], chunk_prompts)
    return dict(alpha=float(vx[0] / vv[0]), beta=float(res.x), mse=float(res.fun))
