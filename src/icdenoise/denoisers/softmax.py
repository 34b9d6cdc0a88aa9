"""Softmax attention (Eq. 12): x̂ = W_PV X softmax(Xᵀ W_KQ x̃), softmax over the L context tokens, no 1/√n
temperature, no residual term; it reads the tokens themselves, kept as XT (n, L) per prompt."""

from __future__ import annotations

import torch

from .base import PaperModel


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
    """softmax over context tokens of the scores Xᵀ W_KQ x̃ (Eq. 12), shape (B, L)."""
    k = x_query @ W_KQ.transpose(-1, -2)
    if X_T is None:
        scores = torch.bmm(X, k.unsqueeze(-1)).squeeze(-1)
    else:  # (B,1,n) @ (B,n,L) streams L contiguously: faster on CPU than (B,L,n) @ (B,n,1)
        scores = torch.bmm(k.unsqueeze(1), X_T).squeeze(1)
    return torch.softmax(scores, dim=-1)


class SoftmaxAttention(PaperModel):
    """Eq. 12 on the (n, L) contexts; fused CPU kernels ``kernels_numba.softmax_*`` (one pass per prompt in cache)."""

    name = "softmax"
    context = "XT"
    fused = "softmax"

    def context_of(self, X):
        return X.transpose(1, 2).contiguous()

    def predict(self, X, x_query, params, X_T=None):
        return softmax_attention(X, x_query, params["W_KQ"], params["W_PV"], X_T=X_T)

    def forward_cached(self, ctx, q, p):
        A, B, n = q.shape
        k = torch.bmm(q, p["W_KQ"].transpose(1, 2))  # (A, B, n)
        a = torch.softmax(torch.bmm(k.reshape(A * B, 1, n), ctx), dim=-1)  # (A·B, 1, L)
        v = torch.bmm(ctx, a.transpose(1, 2)).reshape(A, B, n)
        return torch.bmm(v, p["W_PV"].transpose(1, 2)), (q, ctx, a, v)

    def backward_k(self, cache, err, g_v, G_PV):
        q, XT, a, v = cache
        A, B, n = q.shape
        torch.bmm(err.transpose(1, 2), v, out=G_PV)
        g_a = torch.bmm(g_v.reshape(A * B, 1, n), XT)  # (A·B, 1, L)
        g_s = a * (g_a - (v * g_v).sum(-1).reshape(A * B, 1, 1))
        return torch.bmm(XT, g_s.transpose(1, 2)).reshape(A, B, n)

    def torch_mse(self, ctx, q, t, p, chunk):
        """In chunks of ``chunk`` prompts (cache-sized), over the members' prompts in a row."""
        A, P, n = q.shape
        kf = torch.bmm(q, p["W_KQ"].transpose(1, 2)).reshape(A * P, 1, n)
        h = torch.empty(A * P, n, dtype=q.dtype, device=q.device)
        for s in range(0, A * P, chunk):
            e = min(s + chunk, A * P)
            XT = ctx[s:e]
            a = torch.softmax(torch.bmm(kf[s:e], XT), dim=-1)
            h[s:e] = torch.bmm(XT, a.transpose(1, 2)).squeeze(-1)
        out = torch.bmm(h.reshape(A, P, n), p["W_PV"].transpose(1, 2))
        return (out - t).square().mean(-1)
