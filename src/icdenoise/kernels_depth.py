"""Fused CPU kernels of the K-layer softmax model (icdenoise.denoisers.depth, the depth study): for each prompt the
forward pass through the K layers and the backward pass back through them while its (n, L) context is in cache.

s₀ = x̃, s_{k+1} = λ_t s_k + W_PV⁽ᵗ⁾ X softmax(Xᵀ W_KQ⁽ᵗ⁾ s_k) with t = 0 (tied) or k (untied). Each layer's forward
is kernels_numba's one-layer ``_forward`` (the same arithmetic as the paper model's fused kernel), its backward the
same steps as ``softmax_grads`` with the query replaced by the layer's input s_k, plus the residual: g_{s_k} =
λ_t g_{s_{k+1}} + W_KQ⁽ᵗ⁾ᵀ X g_scores. Weights are the trainer's flat (R, D) rows: W_KQ (T, n, n), W_PV (T, n, n),
λ (T,) one after the other (Model.views); each step copies one member's into (T, n, n) buffers. ``learn_lam`` false
holds λ (a zero gradient, as the torch path's frozen parameters). Separate from kernels_numba so that its kernels
stay as they are; it uses that module's helpers and Adam step.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .kernels_numba import (
    _add_outer,
    _batch,
    _dot,
    _error,
    _forward,
    _mtv,
    _next_context,
    _score_grad,
    _sq_error,
    adam_step,
)


@njit(fastmath=False, cache=True)
def _unpack(W, r, T, n, WK, WV, lam):
    """Member r's W_KQ, W_PV (T, n, n) and λ (T,) from its flat row W[r]."""
    o = 0
    for t in range(T):
        for i in range(n):
            for j in range(n):
                WK[t, i, j] = W[r, o + (t * n + i) * n + j]
    o = T * n * n
    for t in range(T):
        for i in range(n):
            for j in range(n):
                WV[t, i, j] = W[r, o + (t * n + i) * n + j]
    o = 2 * T * n * n
    for t in range(T):
        lam[t] = W[r, o + t]


@njit(fastmath=False, cache=True)
def _pack(G, r, T, n, GK, GV, glam):
    """G[r] = the flat row of the gradients GK, GV (T, n, n), glam (T,)."""
    o = T * n * n
    for t in range(T):
        for i in range(n):
            for j in range(n):
                G[r, (t * n + i) * n + j] = GK[t, i, j]
                G[r, o + (t * n + i) * n + j] = GV[t, i, j]
    for t in range(T):
        G[r, 2 * o + t] = glam[t]


@njit(fastmath=False, cache=True)
def _depth_forward(K, T, X, q, WK, WV, lam, st, A, z, V, k, ibuf, mx, out, Xn):
    """States st[0..K] (st[0] = q), each layer's unnormalised weights A[k] (L), their sum z[k] and v = X p in V[k]."""
    n = q.shape[0]
    for i in range(n):
        st[0, i] = q[i]
    for layer in range(K):
        t = 0 if T == 1 else layer
        nxt = Xn if layer == K - 1 else X
        z[layer] = _forward(X, st[layer], WK[t], WV[t], k, A[layer], ibuf, mx, V[layer], out, nxt)
        for i in range(n):
            st[layer + 1, i] = lam[t] * st[layer, i] + out[i]


@njit(fastmath=False, cache=True)
def depth_softmax_grads(K, T, learn_lam, XT, q, t, idx, W, G, scale, loss):
    """G[r] = gradient of the mean per-component MSE of member r's batch idx[r] w.r.t. its flat weights W[r]
    (r < len(idx)); ``loss[r]`` gets the batch's mean per-component MSE. XT (R, P, n, L), q, t (R, P, n),
    idx (A, B), W and G (R, D); ``scale`` = 2 / (B n) in the data's dtype."""
    A_, B = idx.shape
    n, L = XT.shape[2], XT.shape[3]
    dt = XT.dtype
    WK, WV = np.empty((T, n, n), dt), np.empty((T, n, n), dt)
    GK, GV = np.empty((T, n, n), dt), np.empty((T, n, n), dt)
    lam, glam = np.empty(T, dt), np.empty(T, dt)
    st = np.empty((K + 1, n), dt)
    Aw = np.empty((K, L), dt)
    z = np.empty(K, dt)
    V = np.empty((K, n), dt)
    k = np.empty(n, dt)
    out = np.empty(n, dt)
    g = np.empty(n, dt)
    gv = np.empty(n, dt)
    gk = np.empty(n, dt)
    tmp = np.empty(n, dt)
    gs = np.empty(L, dt)
    ibuf = np.empty(L, np.int32)
    mx = np.empty(16, dt)
    for r in range(A_):
        _unpack(W, r, T, n, WK, WV, lam)
        GK[:] = 0
        GV[:] = 0
        glam[:] = 0
        sq = 0.0
        for b in range(B):
            pi = idx[r, b]
            X = XT[r, pi]
            Xn = _next_context(XT, idx, r, b, X)
            _depth_forward(K, T, X, q[r, pi], WK, WV, lam, st, Aw, z, V, k, ibuf, mx, out, Xn)
            sq = _error(st[K], t[r, pi], scale, g, sq)  # g = gradient w.r.t. s_K
            for layer in range(K - 1, -1, -1):
                tt = 0 if T == 1 else layer
                s_in = st[layer]
                if learn_lam:
                    glam[tt] += _dot(g, s_in)
                _add_outer(GV[tt], g, V[layer])
                _mtv(WV[tt], g, gv)  # g_v = W_PVᵀ g
                c = _dot(V[layer], gv)
                _score_grad(X, Aw[layer], gv, c, z[layer], gs, gk)  # g_k = X g_scores
                _add_outer(GK[tt], gk, s_in)  # G_KQ += g_k s_kᵀ
                if layer > 0:  # g_{s_k} = λ g + W_KQᵀ g_k
                    _mtv(WK[tt], gk, tmp)
                    lt = lam[tt]
                    for i in range(n):
                        g[i] = lt * g[i] + tmp[i]
        _pack(G, r, T, n, GK, GV, glam)
        loss[r] = sq / (B * n)


@njit(fastmath=False, cache=True)
def depth_softmax_epoch(
    K, T, learn_lam, XT, q, t, idx, B, W, G, Wf, mf, vf, Gf, steps, bc2_sqrt, b1, b2, eps, scales, losses
):
    """One epoch of the first A = len(idx) members: per batch of B prompts of ``idx`` (A, P), in order, the
    gradients and one Adam step (the Python loop over batches, as kernels_numba.softmax_epoch)."""
    for s in range(losses.shape[0]):
        depth_softmax_grads(K, T, learn_lam, XT, q, t, _batch(idx, s, B), W, G, scales[s], losses[s])
        adam_step(Wf, mf, vf, Gf, idx.shape[0], steps[s], b1, b2, bc2_sqrt[s], eps)


@njit(fastmath=False, cache=True)
def depth_softmax_mse(K, T, XT, q, t, W, mse, A):
    """mse[r, p] = ‖x̂ − x‖²/n of every prompt p of the first A members."""
    P, n, L = XT.shape[1], XT.shape[2], XT.shape[3]
    dt = XT.dtype
    WK, WV = np.empty((T, n, n), dt), np.empty((T, n, n), dt)
    lam = np.empty(T, dt)
    st = np.empty((K + 1, n), dt)
    Aw = np.empty((K, L), dt)
    z = np.empty(K, dt)
    V = np.empty((K, n), dt)
    k = np.empty(n, dt)
    out = np.empty(n, dt)
    ibuf = np.empty(L, np.int32)
    mx = np.empty(16, dt)
    for r in range(A):
        _unpack(W, r, T, n, WK, WV, lam)
        for p in range(P):
            X = XT[r, p]
            _depth_forward(K, T, X, q[r, p], WK, WV, lam, st, Aw, z, V, k, ibuf, mx, out, X)
            mse[r, p] = _sq_error(st[K], t[r, p]) / n


def kernel(step: str, K: int, T: int, learn_lam: bool):
    """The trainer's call of ``step`` ("grads", "epoch", "mse") for a model of K layers and T weight sets."""
    if step == "grads":
        return lambda *a: depth_softmax_grads(K, T, learn_lam, *a)
    if step == "epoch":
        return lambda *a: depth_softmax_epoch(K, T, learn_lam, *a)
    if step == "mse":
        return lambda *a: depth_softmax_mse(K, T, *a)
    raise ValueError(f"unknown fused step {step!r}")
