"""One-layer attention denoisers (paper §3.1, Eq. 11-12) and read-outs of their weights.

Row convention: context X is (B, L, n), query x̃ is (B, n). With the paper's column matrices
(X of shape n x L) the two models are

* linear attention (Eq. 11):  x̂ = (1/L) W_PV X Xᵀ W_KQ x̃
* softmax attention (Eq. 12): x̂ = W_PV X softmax(Xᵀ W_KQ x̃)   (softmax over the L context
  tokens, no 1/√n temperature, no residual term).

Parameters are two n x n matrices ``W_KQ`` and ``W_PV``, initialised U[-1/√n, 1/√n].
The functions here take the weights explicitly, so the same code evaluates a trained model or a
scaled identity (α-β grids have their own vectorised code in ``landscape``).
"""

from __future__ import annotations

import math

import torch

MODELS = ("linear", "softmax")


def init_weights(n: int, generator: torch.Generator, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """(W_KQ, W_PV), each U[-1/√n, 1/√n] (the PyTorch default for an n x n layer, as in the paper)."""
    bound = 1.0 / math.sqrt(n)
    W_KQ = (torch.rand(n, n, generator=generator, dtype=torch.float64) * 2 - 1) * bound
    W_PV = (torch.rand(n, n, generator=generator, dtype=torch.float64) * 2 - 1) * bound
    return W_KQ.to(dtype), W_PV.to(dtype)


def scaled_identity_weights(n: int, alpha: float, beta: float, dtype=torch.float32):
    """(W_KQ, W_PV) = (βI, αI): the scaled-identity solutions of §3.1."""
    eye = torch.eye(n, dtype=dtype)
    return beta * eye, alpha * eye


def context_moment(X: torch.Tensor) -> torch.Tensor:
    """S = (1/L) Xᵀ X per prompt, (B, n, n): all linear attention ever needs of the context."""
    return torch.bmm(X.transpose(1, 2), X) / X.shape[1]


def linear_attention(X: torch.Tensor, x_query: torch.Tensor, W_KQ: torch.Tensor, W_PV: torch.Tensor) -> torch.Tensor:
    """Eq. 11: x̂ = (1/L) W_PV X Xᵀ W_KQ x̃."""
    return linear_attention_from_moment(context_moment(X), x_query, W_KQ, W_PV)


def linear_attention_from_moment(S: torch.Tensor, x_query: torch.Tensor, W_KQ: torch.Tensor, W_PV: torch.Tensor):
    """Eq. 11 with the context moment S = XᵀX/L precomputed: x̂ = W_PV S W_KQ x̃."""
    k = x_query @ W_KQ.transpose(-1, -2)
    h = torch.bmm(S, k.unsqueeze(-1)).squeeze(-1)
    return h @ W_PV.transpose(-1, -2)


def softmax_attention(
    X: torch.Tensor,
    x_query: torch.Tensor,
    W_KQ: torch.Tensor,
    W_PV: torch.Tensor,
    X_T: torch.Tensor | None = None,
) -> torch.Tensor:
    """Eq. 12: x̂ = W_PV X softmax(Xᵀ W_KQ x̃). ``X_T`` (B, n, L) is an optional second layout of X."""
    p = softmax_attention_weights(X, x_query, W_KQ, X_T=X_T)
    v = torch.bmm(p.unsqueeze(1), X).squeeze(1)
    return v @ W_PV.transpose(-1, -2)


def softmax_attention_weights(X, x_query, W_KQ, X_T=None) -> torch.Tensor:
    """softmax over context tokens of the scores Xᵀ W_KQ x̃, shape (B, L)."""
    k = x_query @ W_KQ.transpose(-1, -2)
    if X_T is None:
        scores = torch.bmm(X, k.unsqueeze(-1)).squeeze(-1)
    else:  # (B,1,n) @ (B,n,L) streams L contiguously: ~3x faster on CPU than (B,L,n) @ (B,n,1)
        scores = torch.bmm(k.unsqueeze(1), X_T).squeeze(1)
    return torch.softmax(scores, dim=-1)


def attention(model: str, X, x_query, W_KQ, W_PV, X_T=None) -> torch.Tensor:
    """Dispatch on the model name ("linear" or "softmax")."""
    if model == "linear":
        return linear_attention(X, x_query, W_KQ, W_PV)
    if model == "softmax":
        return softmax_attention(X, x_query, W_KQ, W_PV, X_T=X_T)
    raise ValueError(f"unknown model {model!r}; allowed: {', '.join(MODELS)}")


def weight_summary(W_KQ: torch.Tensor, W_PV: torch.Tensor) -> dict[str, float]:
    """α = mean diag(W_PV), β = mean diag(W_KQ), and each matrix's relative distance from a scaled identity.

    ``dist_KQ`` = ‖W_KQ − βI‖_F / ‖W_KQ‖_F (0 for an exact scaled identity, ~1 for a random matrix).
    """
    out = {}
    for name, W, key in (("KQ", W_KQ, "beta"), ("PV", W_PV, "alpha")):
        W = torch.as_tensor(W, dtype=torch.float64)
        mean_diag = torch.diagonal(W).mean()
        resid = W - mean_diag * torch.eye(W.shape[0], dtype=W.dtype)
        out[key] = float(mean_diag)
        out[f"dist_{name}"] = float(resid.norm() / W.norm().clamp_min(1e-300))
    return out
