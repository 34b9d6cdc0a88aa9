"""Dense associative memory (DAM) energy of §4 and its gradient-descent denoising iteration.

Eq. 15 (row convention, context tokens X_t are the rows of X, shape (B, L, n)):

    E(s) = ‖s‖² / (2α) − (1/β) log Σ_t exp(β X_tᵀ s)

Its gradient is ∇E(s) = s/α − Σ_t softmax(β X s)_t X_t, so a descent step of size γ (Eq. 16) is

    s ← s − γ ∇E(s) = (1 − γ/α) s + γ Σ_t softmax(β X s)_t X_t,

and one step from s = x̃ with γ = α is exactly the softmax attention layer with W_PV = αI, W_KQ = βI.

For general (trained) weights the layer is x̂ = f(x̃) = W_PV X softmax(X W_KQ x̃) (Eq. 12) and we iterate
``s ← (1 − g) s + g f(s)`` with g = γ/α (``attention_iterate``). With W_PV = αI, W_KQ = βI this is Eq. 16
term by term (g f(s) = (γ/α) α v = γ v), so it is the natural extension of Eq. 16 to non-identity weights:
the step size is given as the fraction g = γ/α of the "one step = attention" step size.

States ``s`` are (B, n) — one per prompt — or (B, m, n) — m states per prompt (e.g. a contour grid).
Inputs may be torch tensors or numpy arrays (``tasks.sample_prompts`` returns numpy); outputs are tensors.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch

from icdenoise.models import softmax_attention

#: Step counts K of the Hopfield iteration study (experiments.md "Beyond the paper").
DEFAULT_STEPS = (0, 1, 2, 3, 5, 10, 20, 50)
#: Step sizes as fractions γ/α of the attention step size.
DEFAULT_GAMMA_FRACS = (0.25, 0.5, 1.0)


def _tensor(x) -> torch.Tensor:
    """A torch view of a numpy array (no copy); tensors pass through."""
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(x)


def _as_states(s: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """(B, n) -> (B, 1, n) with a flag to undo it; (B, m, n) passes through."""
    s = _tensor(s)
    if s.dim() == 2:
        return s.unsqueeze(1), True
    if s.dim() == 3:
        return s, False
    raise ValueError(f"states must be (B, n) or (B, m, n), got shape {tuple(s.shape)}")


def _scores(s3: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """X_tᵀ s for every state and token: (B, m, n) x (B, L, n) -> (B, m, L)."""
    X = _tensor(X)
    if X.dim() != 3 or X.shape[0] != s3.shape[0] or X.shape[2] != s3.shape[2]:
        raise ValueError(f"X must be (B, L, n) matching states {tuple(s3.shape)}, got {tuple(X.shape)}")
    dtype = torch.promote_types(s3.dtype, X.dtype)
    return torch.bmm(s3.to(dtype), X.to(dtype).transpose(1, 2))


def _check_nonzero(**values: float) -> None:
    for key, value in values.items():
        if float(value) == 0.0:
            raise ValueError(f"{key} must be non-zero")


def dam_energy(s: torch.Tensor, X: torch.Tensor, alpha: float, beta: float) -> torch.Tensor:
    """Eq. 15: E(s) = ‖s‖²/(2α) − (1/β) log Σ_t exp(β X_tᵀ s); shape (B,) or (B, m)."""
    _check_nonzero(alpha=alpha, beta=beta)
    s3, squeeze = _as_states(s)
    lse = torch.logsumexp(beta * _scores(s3, X), dim=-1)
    E = (s3 * s3).sum(-1) / (2 * alpha) - lse / beta
    return E.squeeze(1) if squeeze else E


def dam_readout(s: torch.Tensor, X: torch.Tensor, beta: float) -> torch.Tensor:
    """v(s) = Σ_t softmax(β X s)_t X_t, the attention read-out of Eq. 16; same shape as s."""
    s3, squeeze = _as_states(s)
    p = torch.softmax(beta * _scores(s3, X), dim=-1)
    v = torch.bmm(p, _tensor(X).to(p.dtype))
    return v.squeeze(1) if squeeze else v


def dam_energy_grad(s: torch.Tensor, X: torch.Tensor, alpha: float, beta: float) -> torch.Tensor:
    """∇E of Eq. 15: s/α − Σ_t softmax(β X s)_t X_t; same shape as s."""
    _check_nonzero(alpha=alpha, beta=beta)
    return _tensor(s) / alpha - dam_readout(s, X, beta)


def dam_step(s: torch.Tensor, X: torch.Tensor, alpha: float, beta: float, gamma: float) -> torch.Tensor:
    """Eq. 16: s ← (1 − γ/α) s + γ Σ_t softmax(β X s)_t X_t (= s − γ ∇E(s))."""
    _check_nonzero(alpha=alpha, beta=beta)
    return (1 - gamma / alpha) * _tensor(s) + gamma * dam_readout(s, X, beta)


def dam_iterate(
    s0: torch.Tensor,
    X: torch.Tensor,
    alpha: float,
    beta: float,
    gamma: float,
    num_steps: int,
    return_trajectory: bool = False,
) -> torch.Tensor:
    """K = num_steps applications of Eq. 16 from s0; final state, or the (K+1, *s0.shape) trajectory."""
    if num_steps < 0:
        raise ValueError(f"num_steps must be >= 0, got {num_steps}")
    s = s0 = _tensor(s0)
    X = _tensor(X)
    traj = [s0] if return_trajectory else None
    for _ in range(num_steps):
        s = dam_step(s, X, alpha, beta, gamma)
        if traj is not None:
            traj.append(s)
    return torch.stack(traj) if traj is not None else s


def attention_iterate(
    X: torch.Tensor,
    x_query: torch.Tensor,
    W_KQ: torch.Tensor,
    W_PV: torch.Tensor,
    num_steps: int,
    gamma_frac: float,
    return_trajectory: bool = False,
    X_T: torch.Tensor | None = None,
) -> torch.Tensor:
    """Eq. 16 for general weights: s ← (1 − g) s + g W_PV X softmax(X W_KQ s), g = γ/α, s(0) = x̃."""
    if num_steps < 0:
        raise ValueError(f"num_steps must be >= 0, got {num_steps}")
    X, x_query, W_KQ, W_PV = (_tensor(a) for a in (X, x_query, W_KQ, W_PV))
    if X_T is None:
        X_T = X.transpose(1, 2).contiguous()
    X_T = _tensor(X_T)
    g = float(gamma_frac)
    s = x_query
    traj = [s] if return_trajectory else None
    for _ in range(num_steps):
        s = (1 - g) * s + g * softmax_attention(X, s, W_KQ, W_PV, X_T=X_T)
        if traj is not None:
            traj.append(s)
    return torch.stack(traj) if traj is not None else s


def attention_iterate_many(
    X: torch.Tensor,
    x_query: torch.Tensor,
    W_KQ: torch.Tensor,
    W_PV: torch.Tensor,
    gamma_fracs: torch.Tensor,
    steps: list[int],
    chunk: int = 32,
) -> torch.Tensor:
    """Eq. 16 for T weight sets at once: s ← (1 − g_t) s + g_t W_PV,t X softmax(X W_KQ,t s), s(0) = x̃.

    ``W_KQ``, ``W_PV`` (T, n, n) and ``gamma_fracs`` (T,) give T trajectories per prompt (a scaled-identity
    start α, β with γ = gα is W_KQ = βI, W_PV = αI). Prompts are processed ``chunk`` at a time and every
    trajectory of a chunk advances together, so each step reads the chunk's context once for all T
    trajectories (two batched matrix products) while it sits in cache. Returns the states after each K in
    ``steps``: (len(steps), B, T, n), the same as :func:`attention_iterate` run once per weight set.
    """
    X, x_query, W_KQ, W_PV = (_tensor(a) for a in (X, x_query, W_KQ, W_PV))
    g = _tensor(gamma_fracs).to(X.dtype).view(1, -1, 1)  # (1, T, 1)
    B, n, T = x_query.shape[0], x_query.shape[-1], W_KQ.shape[0]
    steps = [int(k) for k in steps]
    if min(steps) < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    out = torch.empty(len(steps), B, T, n, dtype=X.dtype)
    Wk_T, Wv_T = W_KQ.transpose(1, 2).to(X.dtype), W_PV.transpose(1, 2).to(X.dtype)  # (T, n, n)
    for c0 in range(0, B, chunk):
        Xc = X[c0 : c0 + chunk]  # (b, L, n)
        XcT = Xc.transpose(1, 2).contiguous()  # (b, n, L)
        s = x_query[c0 : c0 + chunk].to(X.dtype).unsqueeze(1).expand(-1, T, -1).contiguous()  # (b, T, n)
        for k in range(max(steps) + 1):
            if k in steps:
                out[steps.index(k), c0 : c0 + chunk] = s
            if k == max(steps):
                break
            q = torch.bmm(s.transpose(0, 1), Wk_T).transpose(0, 1)  # (b, T, n): W_KQ,t s
            p = torch.softmax(torch.bmm(q, XcT), dim=-1)  # (b, T, L)
            v = torch.bmm(p, Xc)  # (b, T, n): X softmax(.)
            s = (1 - g) * s + g * torch.bmm(v.transpose(0, 1), Wv_T).transpose(0, 1)
    return out


def _is_scalar(w) -> bool:
    return np.ndim(w) == 0 if not isinstance(w, torch.Tensor) else w.dim() == 0


def mse_after_steps(
    batch,
    alpha,
    beta,
    gammas: Iterable[float] | None = None,
    steps: Sequence[int] = DEFAULT_STEPS,
    *,
    gamma_fracs: Iterable[float] | None = None,
    dtype: torch.dtype = torch.float64,
) -> list[dict]:
    """Per-component MSE ‖s_K − x‖²/n (prompt mean) after K steps of Eq. 16, for every step size and K in ``steps``.

    ``alpha``/``beta`` are scalars (W_PV = αI, W_KQ = βI) or (n, n) matrices W_PV/W_KQ (trained weights;
    iterated with ``attention_iterate``, and the reported ``alpha`` is mean diag(W_PV)). Step sizes are given
    as absolute ``gammas`` (scalar α only) or as ``gamma_fracs`` = γ/α (default 1/4, 1/2, 1). The trajectory
    is computed once up to max(steps) per step size. Rows: gamma, gamma_over_alpha, K, mse.
    """
    steps = sorted({int(k) for k in steps})
    if not steps or steps[0] < 0:
        raise ValueError(f"steps must be non-negative integers, got {steps}")
    scalar = _is_scalar(alpha) and _is_scalar(beta)
    if not scalar and (_is_scalar(alpha) or _is_scalar(beta)):
        raise ValueError("alpha and beta must both be scalars or both (n, n) matrices")
    alpha_eff = float(alpha) if scalar else float(torch.diagonal(_tensor(alpha)).mean())
    if gammas is not None and gamma_fracs is not None:
        raise ValueError("give either gammas or gamma_fracs, not both")
    if gammas is not None:
        if not scalar:
            raise ValueError("absolute gammas need scalar alpha; use gamma_fracs with matrix weights")
        fracs = [float(g) / alpha_eff for g in gammas]
    else:
        fracs = [float(f) for f in (gamma_fracs if gamma_fracs is not None else DEFAULT_GAMMA_FRACS)]

    X = _tensor(batch.X).to(dtype)
    xq = _tensor(batch.x_query).to(dtype)
    xt = _tensor(batch.x_target).to(dtype)
    n = X.shape[-1]
    if not scalar:
        W_PV = _tensor(alpha).to(dtype)
        W_KQ = _tensor(beta).to(dtype)
        X_T = X.transpose(1, 2).contiguous()
    K_max = steps[-1]
    wanted = set(steps)
    rows = []
    for frac in fracs:
        if scalar:
            traj = dam_iterate(xq, X, float(alpha), float(beta), frac * alpha_eff, K_max, return_trajectory=True)
        else:
            traj = attention_iterate(X, xq, W_KQ, W_PV, K_max, frac, return_trajectory=True, X_T=X_T)
        err = ((traj - xt) ** 2).sum(-1).mean(-1) / n  # (K_max + 1,)
        for K in range(K_max + 1):
            if K in wanted:
                rows.append(dict(gamma=frac * alpha_eff, gamma_over_alpha=frac, K=K, mse=float(err[K])))
    return rows
