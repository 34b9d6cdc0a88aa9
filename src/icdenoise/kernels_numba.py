"""Fused CPU kernels for softmax attention (Eq. 12): one pass over each prompt's context while it sits in cache;
and for linear attention (Eq. 11) on the prompts' n x n moments S = XᵀX/L (``linear_grads``, ``linear_mse``).
Either model's epoch (every batch's gradients and Adam step) is one compiled call (``softmax_epoch``,
``linear_epoch``).

Longer than 600 lines on purpose: numba inlines only what it compiles together, so the fused kernels and their
inlined helpers (one-pass and tiled softmax, linear moments, Adam) share one module.

The torch path reads a prompt's context X (n x L) from memory four times per training step (kᵀX and
X p forward, g_vᵀX and X g_s backward) and twice per evaluation, each time as a separate batched
product over the whole batch, so X has left the cache between products. These numba kernels loop
over prompts (and ensemble members) and do the whole forward and backward pass of one prompt while
its 32 KB (n = 16, L = 500, float32) are in L1/L2: memory is streamed once per prompt.

Layout: ``XT`` is (R, P, n, L) (member, prompt, component, token), the paper's column layout, so the
score pass ``s = kᵀX`` is an elementwise loop over L (vectorised without reassociation) and the two
reductions over L (``X p`` and ``X g_s``) go through :func:`_dot` and :func:`_dot2` (two rows per
pass over the weights, the same sums as two ``_dot`` calls), which allow LLVM to reassociate
the sum (``fastmath={'reassoc'}`` on that helper only: no ``nnan``/``ninf``, so a diverged run still
shows NaN/inf). The summation order therefore depends on the vector width of the machine that
compiled the kernel, as torch's own reductions do; on one machine results are bit-reproducible.

float32 uses a vectorisable ``exp`` (Cody-Waite reduction, degree-6 polynomial, 2^k by exponent
bits; max relative error ~2 ulp on (-87, 0], exact 0 below); float64 uses ``math.exp``.

Compiled code is cached on disk (``cache=True``): numba writes it next to this file in
``__pycache__`` or, where that is read-only, in a user-wide cache (``$NUMBA_CACHE_DIR`` sets it).
Importing this module imports numba (slow to import); :mod:`icdenoise.kernels` imports it only on first use.
"""

from __future__ import annotations

import math
import os

import numba
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload


def _exp_shift(s, m, ibuf):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(_exp_shift, jit_options={"fastmath": False})
def _exp_shift_impl(s, m, ibuf):
    """s[l] <- exp(s[l] - m) in place, returns the sum. float32: vectorisable polynomial exp."""
    if s.dtype == types.float32:

        def impl32(s, m, ibuf):
            L = s.shape[0]
            fbuf = ibuf.view(np.float32)
            for l in range(L):
                x = max(s[l] - m, np.float32(-87.0))
                # k = round(x / ln 2) by the 1.5·2^23 shift; its integer bits land in ibuf
                tt = x * np.float32(1.4426950408889634) + np.float32(12582912.0)
                fbuf[l] = tt
                kf = tt - np.float32(12582912.0)
                r = x - kf * np.float32(0.693359375)
                r = r - kf * np.float32(-2.12194440e-4)
                p = np.float32(1.9875691500e-4)
                p = p * r + np.float32(1.3981999507e-3)
                p = p * r + np.float32(8.3334519073e-3)
                p = p * r + np.float32(4.1665795894e-2)
                p = p * r + np.float32(1.6666665459e-1)
                p = p * r + np.float32(5.0000001201e-1)
                s[l] = p * r * r + r + np.float32(1.0)
            for l in range(L):  # 2^k as float bits: (k + 127) << 23
                ibuf[l] = (ibuf[l] - np.int32(0x4B400000) + np.int32(127)) << 23
            for l in range(L):
                s[l] = s[l] * fbuf[l]
            return _sum(s)

        return impl32

    def impl64(s, m, ibuf):
        for l in range(s.shape[0]):
            s[l] = math.exp(s[l] - m)
        return _sum(s)

    return impl64


@intrinsic
def _prefetch(typingctx, arr, offset):
    """Hint the CPU to load the cache line of arr.flat[offset] (llvm.prefetch; never faults)."""
    sig = types.void(arr, offset)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = builder.bitcast(builder.gep(ary.data, [args[1]]), ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [ptr, i32(0), i32(2), i32(1)])  # read, into L2 (not L1: 32 KB holds one prompt), data
        return context.get_dummy_value()

    return sig, codegen


@njit(fastmath=False, cache=True)
def _prefetch_row(X, i, L):
    """Prefetch row i of the (n, L) context X (one hint per 64-byte line)."""
    step = 64 // X.itemsize
    base = i * L
    for l in range(0, L, step):
        _prefetch(X, base + l)


#: Contexts longer than this go through the tiled path (:func:`_forward_tiled`, :func:`_score_grad_tiled`);
#: at L <= TILED_ABOVE the one-pass path runs (the paper's L = 500 and below: their results bit for bit).
TILED_ABOVE = 500
#: Bytes of context per tile (n rows x T tokens): a tile stays in L1 (48 KB) between the passes that read it.
TILE_BYTES = 16384


@njit(fastmath=False, cache=True)
def tile_tokens(n, itemsize):
    """Tokens per tile: TILE_BYTES of context (n = 16, float32: 256), a multiple of 16, at least 32."""
    T = TILE_BYTES // (n * itemsize)
    return max(32, T - T % 16)


@njit(fastmath=False, cache=True)
def _prefetch_cols(X, j0, j1):
    """Prefetch tokens j0 .. j1 of every row of the (n, L) context X (one hint per 64-byte line)."""
    n, L = X.shape
    step = 64 // X.itemsize
    for i in range(n):
        base = i * L
        for l in range(j0, j1, step):
            _prefetch(X, base + l)


@njit(fastmath=False, cache=True)
def _max(s, mx):
    """max(s) with 16 lane maxima (vectorisable, exact: max needs no reassociation)."""
    L = s.shape[0]
    if L < 32:
        m = s[0]
        for l in range(1, L):
            m = max(m, s[l])
        return m
    for j in range(16):
        mx[j] = s[j]
    L16 = L - L % 16
    for lb in range(16, L16, 16):
        for j in range(16):
            x = s[lb + j]
            mx[j] = x if x > mx[j] else mx[j]
    m = mx[0]
    for j in range(1, 16):
        m = max(m, mx[j])
    for l in range(L16, L):
        m = max(m, s[l])
    return m


@njit(fastmath=False, cache=True)
def adam_step(W, m, v, G, A, step, b1, b2, bc2_sqrt, eps):
    """torch.optim.Adam's update of the first A members: W[r] += step[r] · m / (√v / √(1−β2^t) + ε).

    ``step[r]`` = −lr_r / (1 − β1^t); m.lerp_(G, 1 − β1) and v = β2 v + (1 − β2) G² as torch does.
    """
    w1 = W.dtype.type(1 - b1)
    c2 = W.dtype.type(b2)
    w2 = W.dtype.type(1 - b2)
    bc = W.dtype.type(bc2_sqrt)
    ep = W.dtype.type(eps)
    Wf = W.reshape(W.shape[0], -1)
    mf = m.reshape(W.shape[0], -1)
    vf = v.reshape(W.shape[0], -1)
    Gf = G.reshape(W.shape[0], -1)
    for r in range(A):
        st = W.dtype.type(step[r])
        for j in range(Wf.shape[1]):
            g = Gf[r, j]
            mj = mf[r, j] + w1 * (g - mf[r, j])
            vj = c2 * vf[r, j] + w2 * (g * g)
            mf[r, j] = mj
            vf[r, j] = vj
            Wf[r, j] = Wf[r, j] + st * (mj / (math.sqrt(vj) / bc + ep))


@njit(fastmath={"reassoc"}, cache=True)
def _dot(a, b):
    """Σ a[l] b[l] (reassociation allowed: LLVM vectorises it)."""
    acc = a[0] * b[0]
    for l in range(1, a.shape[0]):
        acc += a[l] * b[l]
    return acc


@njit(fastmath={"reassoc"}, cache=True)
def _sum(a):
    acc = a[0]
    for l in range(1, a.shape[0]):
        acc += a[l]
    return acc


@njit(fastmath={"reassoc"}, cache=True)
def _dot2(a, b, s):
    """(Σ a[l] s[l], Σ b[l] s[l]) in one pass over s (reassociation allowed)."""
    A = a[0] * s[0]
    B = b[0] * s[0]
    for l in range(1, s.shape[0]):
        sl = s[l]
        A += a[l] * sl
        B += b[l] * sl
    return A, B


@njit(fastmath=False, cache=True, inline="always")
def _xtw(X, w, j0, j1, out):
    """out[l − j0] = Σ_i w_i X[i, l] for the tokens l in [j0, j1) of X (n, L): row 0 first, then the others added
    in order (the score pass s = Xᵀk and the backward g_s = Xᵀg_v; :func:`_forward` interleaves its prefetches
    with the same loop)."""
    n = X.shape[0]
    w0 = w[0]
    X0 = X[0, j0:j1]
    for l in range(j1 - j0):
        out[l] = w0 * X0[l]
    for i in range(1, n):
        wi = w[i]
        Xi = X[i, j0:j1]
        for l in range(j1 - j0):
            out[l] += wi * Xi[l]


@njit(fastmath=False, cache=True)
def _forward(X, q, Wkq, Wpv, k, s, ibuf, mx, v, out, Xnext):
    """One prompt: k = W_KQ q, s = exp(kᵀX − max) (unnormalised, in place), v = X s / z, out = W_PV v.

    Returns z = Σ s (the softmax weights are s / z). The next prompt's context ``Xnext`` is prefetched
    row by row, its first half during the score pass and its second half during the v pass: spread
    over the prompt's whole forward pass, the requests never queue up (issued all in the score pass,
    the epoch was measurably slower). Prefetching changes no arithmetic.
    """
    n, L = X.shape
    h = (n + 1) // 2  # rows of Xnext prefetched during the score pass; the rest during the v pass
    for i in range(n):  # 16 x 16 mat-vecs as row dots: a sequential chain per row would be latency-bound
        k[i] = _dot(Wkq[i], q)
    k0 = k[0]
    for l in range(L):
        s[l] = k0 * X[0, l]
    _prefetch_row(Xnext, 0, L)
    for i in range(1, n):
        ki = k[i]
        for l in range(L):
            s[l] += ki * X[i, l]
        if i % 2 == 0:
            _prefetch_row(Xnext, i // 2, L)
    z = _exp_shift(s, _max(s, mx), ibuf)
    for i in range(0, n - 1, 2):  # two rows per pass over s: the same sums as two _dot calls
        a, b = _dot2(X[i], X[i + 1], s)
        v[i] = a / z
        v[i + 1] = b / z
        _prefetch_row(Xnext, h + i // 2, L)  # rows h .. n-1, one per pair
    if n % 2:
        v[n - 1] = _dot(X[n - 1], s) / z
    for i in range(n):
        out[i] = _dot(Wpv[i], v)
    return z


@njit(fastmath=False, cache=True)
def _forward_tiled(X, q, Wkq, Wpv, k, s, ibuf, mx, v, out, Xnext, tm, T):
    """:func:`_forward` on tiles of T tokens with an online (running-max) softmax, for long contexts.

    Per tile: its scores, the running max m, exp(s − m) in place, and z and v = X s rescaled by
    exp(m_old − m) before the tile's terms are added: each tile of X is read twice while in L1 (the one-pass
    path reads the whole context twice, from L2 once it exceeds L1). At the end every tile's exp is rescaled
    to the final max (``tm`` holds each tile's max), so s, z and v mean what they mean in :func:`_forward`.
    The same sums in another order: not bit-identical to :func:`_forward`. The next prompt's context
    ``Xnext`` is prefetched tile by tile.
    """
    n, L = X.shape
    dt = X.dtype.type
    for i in range(n):
        k[i] = _dot(Wkq[i], q)
        v[i] = 0
    m = dt(-np.inf)
    z = dt(0)
    t = 0
    for j0 in range(0, L, T):
        j1 = min(L, j0 + T)
        st = s[j0:j1]
        _xtw(X, k, j0, j1, st)  # the tile's scores
        _prefetch_cols(Xnext, j0, j1)
        mt = max(m, _max(st, mx))
        zt = _exp_shift(st, mt, ibuf[: j1 - j0])
        c = dt(math.exp(m - mt))  # exp(-inf) = 0 on the first tile
        z = z * c + zt
        for i in range(0, n - 1, 2):
            a, b = _dot2(X[i, j0:j1], X[i + 1, j0:j1], st)
            v[i] = v[i] * c + a
            v[i + 1] = v[i + 1] * c + b
        if n % 2:
            v[n - 1] = v[n - 1] * c + _dot(X[n - 1, j0:j1], st)
        tm[t] = mt
        m = mt
        t += 1
    t = 0
    for j0 in range(0, L, T):  # each tile's exp(s − m_tile) to exp(s − max)
        f = dt(math.exp(tm[t] - m))
        if f != 1:
            for l in range(j0, min(L, j0 + T)):
                s[l] *= f
        t += 1
    for i in range(n):
        v[i] = v[i] / z
    for i in range(n):
        out[i] = _dot(Wpv[i], v)
    return z


@njit(fastmath=False, cache=True)
def _score_grad_tiled(X, s, gv, c, z, gs, gk, T):
    """g_k = X g_s with g_s = p ⊙ (Xᵀ g_v − c), p = s / z, on tiles of T tokens (each read twice while in L1).

    ``gs`` needs T entries (a tile's g_s); ``gk`` (n) receives g_k."""
    n, L = X.shape
    iz = 1 / z
    for i in range(n):
        gk[i] = 0
    for j0 in range(0, L, T):
        j1 = min(L, j0 + T)
        gst = gs[: j1 - j0]
        st = s[j0:j1]
        _xtw(X, gv, j0, j1, gst)  # Xᵀ g_v on the tile
        for l in range(j1 - j0):
            gst[l] = (st[l] * iz) * (gst[l] - c)
        for i in range(0, n - 1, 2):
            ga, gb = _dot2(X[i, j0:j1], X[i + 1, j0:j1], gst)
            gk[i] += ga
            gk[i + 1] += gb
        if n % 2:
            gk[n - 1] += _dot(X[n - 1, j0:j1], gst)


# The small helpers below are inlined by numba (inline="always"): as calls, the training pass was
# measurably slower, their loops no longer vectorised together with the caller's.
@njit(fastmath=False, cache=True, inline="always")
def _error(out, t, scale, err, sq):
    """err = (out − t)·scale; returns sq + ‖out − t‖², added term by term."""
    for i in range(out.shape[0]):
        d = out[i] - t[i]
        sq += d * d
        err[i] = d * scale
    return sq


@njit(fastmath=False, cache=True, inline="always")
def _sq_error(out, t):
    """‖out − t‖² in the data's dtype, summed in order (the per-prompt MSE's numerator)."""
    d = out[0] - t[0]
    e = d * d
    for i in range(1, out.shape[0]):
        d = out[i] - t[i]
        e += d * d
    return e


@njit(fastmath=False, cache=True, inline="always")
def _axpy(a, x, y):
    """y += a x (vectorised over the row)."""
    for j in range(y.shape[0]):
        y[j] += a * x[j]


@njit(fastmath=False, cache=True, inline="always")
def _add_outer(M, a, b):
    """M += a bᵀ, row by row."""
    for i in range(M.shape[0]):
        _axpy(a[i], b, M[i])


@njit(fastmath=False, cache=True, inline="always")
def _mtv(M, x, y):
    """y = Mᵀ x = Σ_i x[i] M[i, :], row by row (contiguous, vectorised over the row)."""
    x0 = x[0]
    for j in range(y.shape[0]):
        y[j] = M[0, j] * x0
    for i in range(1, M.shape[0]):
        _axpy(x[i], M[i], y)


@njit(fastmath=False, cache=True, inline="always")
def _next_context(XT, idx, r, b, X):
    """The (n, L) context read after prompt idx[r, b] of a batch idx (A, B): the next prompt of member r, else
    the first of member r + 1, else X itself (what the forward pass prefetches into cache)."""
    A, B = idx.shape
    if b + 1 < B:
        return XT[r, idx[r, b + 1]]
    if r + 1 < A:
        return XT[r + 1, idx[r + 1, 0]]
    return X


@njit(fastmath=False, cache=True, inline="always")
def _score_grad(X, s, gv, c, z, gs, gk):
    """g_k (n) = X g_s with g_s = p ⊙ (Xᵀ g_v − c), p = s / z (the backward pass of Eq. 12's scores), one pass
    over the L tokens for g_s and one for g_k, two rows at a time; ``gs`` (L) is scratch."""
    n, L = X.shape
    _xtw(X, gv, 0, L, gs)  # Xᵀ g_v
    iz = 1 / z
    for l in range(L):
        gs[l] = (s[l] * iz) * (gs[l] - c)
    for i in range(0, n - 1, 2):
        ga, gb = _dot2(X[i], X[i + 1], gs)
        gk[i] = ga
        gk[i + 1] = gb
    if n % 2:
        gk[n - 1] = _dot(X[n - 1], gs)


@njit(fastmath=False, cache=True)
def softmax_grads(XT, q, t, idx, W, G, scale, loss):
    """G[r] = gradient of the mean per-component MSE of member r's batch idx[r] w.r.t. W[r] (r < len(idx)).

    XT (R, P, n, L), q and t (R, P, n), idx (A, B) int64 prompt indices (A <= R active members),
    W and G (R, 2, n, n); ``scale`` = 2 / (B n) in the data's dtype. ``loss[r]`` (float64) receives
    the batch's mean per-component MSE at the weights of this step (the loss the step descends).
    """
    A, B = idx.shape
    n, L = XT.shape[2], XT.shape[3]
    dt = XT.dtype
    k = np.empty(n, dt)
    v = np.empty(n, dt)
    out = np.empty(n, dt)
    err = np.empty(n, dt)
    gv = np.empty(n, dt)
    s = np.empty(L, dt)
    gs = np.empty(L, dt)
    ibuf = np.empty(L, np.int32)
    mx = np.empty(16, dt)
    tiled = L > TILED_ABOVE
    T = tile_tokens(n, XT.itemsize)
    tm = np.empty(L // T + 1, dt)
    gk = np.empty(n, dt)
    for r in range(A):
        Wkq, Wpv = W[r, 0], W[r, 1]
        Gkq, Gpv = G[r, 0], G[r, 1]
        Gkq[:] = 0
        Gpv[:] = 0
        sq = 0.0
        for b in range(B):
            pi = idx[r, b]
            X = XT[r, pi]
            qb = q[r, pi]
            Xn = _next_context(XT, idx, r, b, X)
            if tiled:
                z = _forward_tiled(X, qb, Wkq, Wpv, k, s, ibuf, mx, v, out, Xn, tm, T)
            else:
                z = _forward(X, qb, Wkq, Wpv, k, s, ibuf, mx, v, out, Xn)
            sq = _error(out, t[r, pi], scale, err, sq)
            _add_outer(Gpv, err, v)
            _mtv(Wpv, err, gv)  # g_v = W_PVᵀ err
            c = _dot(v, gv)
            if tiled:
                _score_grad_tiled(X, s, gv, c, z, gs, gk, T)
            else:
                _score_grad(X, s, gv, c, z, gs, gk)
            _add_outer(Gkq, gk, qb)  # G_KQ += g_k qᵀ
        loss[r] = sq / (B * n)


@njit(fastmath=False, cache=True)
def _mv(M, x, y):
    """y = M x for a small square M, as row dots (each vectorised over the row)."""
    for i in range(M.shape[0]):
        y[i] = _dot(M[i], x)


@njit(fastmath=False, cache=True)
def _linear_forward(S, q, Wkq, Wpv, k, h, out):
    """One prompt of linear attention (Eq. 11) from its context moment S = XᵀX/L (n x n, symmetric):
    k = W_KQ q, h = S k, out = W_PV h."""
    _mv(Wkq, q, k)
    _mv(S, k, h)
    _mv(Wpv, h, out)


@njit(fastmath=False, cache=True)
def linear_grads(S, q, t, idx, W, G, scale, loss):
    """:func:`softmax_grads` for linear attention: S (R, P, n, n) the prompts' context moments XᵀX/L.

    err = out − t; G_PV = Σ err hᵀ and G_KQ = Σ (S W_PVᵀ err) qᵀ, both times ``scale`` = 2 / (B n)."""
    A, B = idx.shape
    n = S.shape[2]
    dt = S.dtype
    k = np.empty(n, dt)
    h = np.empty(n, dt)
    out = np.empty(n, dt)
    err = np.empty(n, dt)
    gh = np.empty(n, dt)
    gk = np.empty(n, dt)
    for r in range(A):
        Wkq, Wpv = W[r, 0], W[r, 1]
        Gkq, Gpv = G[r, 0], G[r, 1]
        Gkq[:] = 0
        Gpv[:] = 0
        sq = 0.0
        for b in range(B):
            pi = idx[r, b]
            Sb = S[r, pi]
            qb = q[r, pi]
            _linear_forward(Sb, qb, Wkq, Wpv, k, h, out)
            sq = _error(out, t[r, pi], scale, err, sq)
            _add_outer(Gpv, err, h)
            _mtv(Wpv, err, gh)  # g_h = W_PVᵀ err
            _mv(Sb, gh, gk)  # g_k = S g_h (S is symmetric)
            _add_outer(Gkq, gk, qb)
        loss[r] = sq / (B * n)


@njit(fastmath=False, cache=True)
def linear_mse(S, q, t, W, mse, A):
    """:func:`softmax_mse` for linear attention (S the context moments)."""
    P, n = S.shape[1], S.shape[2]
    dt = S.dtype
    k = np.empty(n, dt)
    h = np.empty(n, dt)
    out = np.empty(n, dt)
    for r in range(A):
        for p in range(P):
            _linear_forward(S[r, p], q[r, p], W[r, 0], W[r, 1], k, h, out)
            mse[r, p] = _sq_error(out, t[r, p]) / n


@njit(fastmath=False, cache=True)
def _batch(idx, s, B):
    """Batch s of the epoch's prompt order idx (A, P): its columns s·B .. min(P, (s+1)·B), contiguous."""
    start = s * B
    return np.ascontiguousarray(idx[:, start : min(idx.shape[1], start + B)])


@njit(fastmath=False, cache=True)
def softmax_epoch(XT, q, t, idx, B, W, G, Wf, mf, vf, Gf, steps, bc2_sqrt, b1, b2, eps, scales, losses):
    """One epoch of the first A = len(idx) members: for each batch of B prompts of ``idx`` (A, P), in order,
    :func:`softmax_grads` then :func:`adam_step` with the factors ``steps[s]``, ``bc2_sqrt[s]`` and the
    loss scale ``scales[s]``; ``losses[s, r]`` gets batch s's loss. The same calls, in the same order,
    as the Python loop over batches (bit-identical), without its per-step overhead.

    W, G (R, 2, n, n) and their (R, 2n²) views Wf, Gf; mf, vf the Adam moments in that view."""
    for s in range(losses.shape[0]):
        softmax_grads(XT, q, t, _batch(idx, s, B), W, G, scales[s], losses[s])
        adam_step(Wf, mf, vf, Gf, idx.shape[0], steps[s], b1, b2, bc2_sqrt[s], eps)


@njit(fastmath=False, cache=True)
def linear_epoch(S, q, t, idx, B, W, G, Wf, mf, vf, Gf, steps, bc2_sqrt, b1, b2, eps, scales, losses):
    """:func:`softmax_epoch` for linear attention (S the context moments): its own compiled function, so
    a linear-only job loads only the linear code from numba's cache."""
    for s in range(losses.shape[0]):
        linear_grads(S, q, t, _batch(idx, s, B), W, G, scales[s], losses[s])
        adam_step(Wf, mf, vf, Gf, idx.shape[0], steps[s], b1, b2, bc2_sqrt[s], eps)


@njit(fastmath=False, cache=True)
def softmax_mse(XT, q, t, W, mse, A):
    """mse[r, p] = ‖x̂ − x‖²/n of every prompt p of the first A members (weights W[r])."""
    P, n, L = XT.shape[1], XT.shape[2], XT.shape[3]
    dt = XT.dtype
    k = np.empty(n, dt)
    v = np.empty(n, dt)
    out = np.empty(n, dt)
    s = np.empty(L, dt)
    ibuf = np.empty(L, np.int32)
    mx = np.empty(16, dt)
    T = tile_tokens(n, XT.itemsize)
    tm = np.empty(L // T + 1, dt)
    for r in range(A):
        for p in range(P):
            if p + 1 < P:
                Xn = XT[r, p + 1]
            elif r + 1 < A:
                Xn = XT[r + 1, 0]
            else:
                Xn = XT[r, p]
            if L > TILED_ABOVE:
                _forward_tiled(XT[r, p], q[r, p], W[r, 0], W[r, 1], k, s, ibuf, mx, v, out, Xn, tm, T)
            else:
                _forward(XT[r, p], q[r, p], W[r, 0], W[r, 1], k, s, ibuf, mx, v, out, Xn)
            mse[r, p] = _sq_error(out, t[r, p]) / n


@njit(fastmath=False, cache=True)
def scale_add_centres(tokens, muT, labels, scale):
    """tokens[b, i, l] <- scale · tokens[b, i, l] + muT[b, i, labels[b, l]] (the mixture tokens, one pass).

    tokens (B, n, T) float32, muT (B, n, p) float32, labels (B, T) int64: the gmm sampler's last step."""
    B, n, T = tokens.shape
    for b in range(B):
        lab = labels[b]
        for i in range(n):
            row = tokens[b, i]
            mu = muT[b, i]
            for l in range(T):
                row[l] = scale * row[l] + mu[lab[l]]


@njit(fastmath=False, cache=True)
def sphere_tokens(u, V, R, out):
    """out[b, :, l] = V[b] @ u[b, :, l] · R / |u[b, :, l]| (the sphere tokens from Gaussian coefficients, one pass).

    u (B, k, T) float32 N(0, 1) draws, V (B, n, k) float32 orthonormal frames, out (B, n, T) float32."""
    B, k, T = u.shape
    n = V.shape[1]
    inv = np.empty(T, u.dtype)
    for b in range(B):
        ub = u[b]
        for l in range(T):
            inv[l] = ub[0, l] * ub[0, l]
        for j in range(1, k):
            for l in range(T):
                inv[l] += ub[j, l] * ub[j, l]
        for l in range(T):
            inv[l] = R / math.sqrt(inv[l])
        for i in range(n):
            row = out[b, i]
            v0 = V[b, i, 0]
            for l in range(T):
                row[l] = v0 * ub[0, l]
            for j in range(1, k):
                vj = V[b, i, j]
                for l in range(T):
                    row[l] += vj * ub[j, l]
            for l in range(T):
                row[l] *= inv[l]


def warm_up(dtype=np.float32) -> None:
    """Compile (or load from the disk cache) the kernels and the Adam step for ``dtype`` on a tiny problem."""
    XT = np.zeros((1, 1, 2, 3), dtype)
    q = np.zeros((1, 1, 2), dtype)
    W = np.zeros((1, 2, 2, 2), dtype)
    softmax_grads(XT, q, q, np.zeros((1, 1), np.int64), W, np.empty_like(W), dtype(1.0), np.zeros(1))
    softmax_mse(XT, q, q, W, np.empty((1, 1), dtype), 1)
    S = np.zeros((1, 1, 2, 2), dtype)
    linear_grads(S, q, q, np.zeros((1, 1), np.int64), W, np.empty_like(W), dtype(1.0), np.zeros(1))
    linear_mse(S, q, q, W, np.empty((1, 1), dtype), 1)
    Wf = W.reshape(1, -1)
    adam_step(Wf, Wf.copy(), Wf.copy(), Wf.copy(), 1, np.ones(1), 0.9, 0.999, 1.0, 1e-8)
    G = np.zeros_like(W)
    for epoch, D in ((softmax_epoch, XT), (linear_epoch, S)):  # the types train._Kernel.epoch passes
        epoch(D, q, q, np.zeros((1, 1), np.int64), 1, W, G, Wf, Wf.copy(), Wf.copy(), G.reshape(1, -1),
              np.zeros((1, 1)), np.ones(1), 0.9, 0.999, 1e-8, np.ones(1, dtype), np.zeros((1, 1)))  # fmt: skip
    if dtype == np.float32:
        scale_add_centres(np.zeros((1, 2, 3), dtype), np.zeros((1, 2, 2), dtype), np.zeros((1, 3), np.int64), dtype(1))
        sphere_tokens(np.ones((1, 2, 3), dtype), np.zeros((1, 2, 2), dtype), dtype(1), np.empty((1, 2, 3), dtype))


def cache_dir() -> str:
    """Where numba keeps this module's compiled kernels (next to this file, or under $NUMBA_CACHE_DIR)."""
    return str(softmax_grads._cache._cache_path)


def clear_cache() -> int:
    """Delete this module's numba cache files (benchmarks of the cold start); returns how many."""
    import glob

    n = 0
    for f in glob.glob(os.path.join(cache_dir(), "kernels_numba.*.nb[ic]")):
        os.remove(f)
        n += 1
    return n


__all__ = [
    "adam_step",
    "cache_dir",
    "clear_cache",
    "linear_epoch",
    "linear_grads",
    "linear_mse",
    "scale_add_centres",
    "softmax_epoch",
    "softmax_grads",
    "sphere_tokens",
    "softmax_mse",
    "warm_up",
]
NUMBA_VERSION = numba.__version__
