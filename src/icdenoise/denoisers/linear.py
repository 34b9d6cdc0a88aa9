"""Linear attention (Eq. 11): x̂ = (1/L) W_PV X Xᵀ W_KQ x̃, which reads the context only through S = XᵀX/L."""

from __future__ import annotations

import torch

from .base import PaperModel


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


def moment_h(S: torch.Tensor, q: torch.Tensor, W_KQ: torch.Tensor) -> torch.Tensor:
    """h = S W_KQ x̃ of A members' B prompts: S (A·B, n, n), q (A, B, n), W_KQ (A, n, n) -> (A, B, n)."""
    A, B, n = q.shape
    k = torch.bmm(q, W_KQ.transpose(1, 2))  # (A, B, n)
    return torch.bmm(S, k.reshape(A * B, n, 1)).reshape(A, B, n)


class LinearAttention(PaperModel):
    """Eq. 11 on the context moments S (n x n per prompt); fused CPU kernels ``kernels_numba.linear_*``."""

    name = "linear"
    context = "moment"
    fused = "linear"

    def context_of(self, X):
        return context_moment(X)

    def predict(self, X, x_query, params, X_T=None):
        return linear_attention(X, x_query, params["W_KQ"], params["W_PV"])

    def forward_cached(self, ctx, q, p):
        h = moment_h(ctx, q, p["W_KQ"])
        return torch.bmm(h, p["W_PV"].transpose(1, 2)), (q, ctx, h)

    def backward_k(self, cache, err, g_h, G_PV):
        q, S, h = cache
        A, B, n = q.shape
        torch.bmm(err.transpose(1, 2), h, out=G_PV)
        return torch.bmm(S, g_h.reshape(A * B, n, 1)).reshape(A, B, n)  # S is symmetric

    def torch_mse(self, ctx, q, t, p, chunk):
        A, P, n = q.shape
        out = torch.bmm(moment_h(ctx, q, p["W_KQ"]), p["W_PV"].transpose(1, 2))
        return (out - t).square().mean(-1)
