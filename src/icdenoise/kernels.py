"""Fused CPU kernels for softmax attention (Eq. 12): one pass over each prompt's context while it sits in cache.

The torch path reads a prompt's context X (n x L) from memory four times per training step (kᵀX and
X p forward, g_vᵀX and X g_s backward) and twice per evaluation, each time as a separate batched
product over the whole batch, so X has left the cache between products. These numba kernels loop
over prompts (and ensemble members) and do the whole forward and backward pass of one prompt while
its 32 KB (n = 16, L = 500, float32) are in L1/L2: memory is streamed once per prompt.

Layout: ``XT`` is (R, P, n, L) (member, prompt, component, token), the paper's column layout, so the
score pass ``s = kᵀX`` is an elementwise loop over L (vectorised without reassociation) and the two
reductions over L (``X p`` and ``X g_s``) go through :func:`_dot`, which allows LLVM to reassociate
the sum (``fastmath={'reassoc'}`` on that helper only: no ``nnan``/``ninf``, so a diverged run still
shows NaN/inf). The summation order therefore depends on the vector width of the machine that
compiled the kernel, as torch's own reductions do; on one machine results are bit-reproducible.

float32 uses a vectorisable ``exp`` (Cody-Waite reduction, degree-6 polynomial, 2^k by exponent
bits; max relative error ~2 ulp on (-87, 0], exact 0 below); float64 uses ``math.exp``.

Compiled code is cached on disk (``cache=True``): numba writes it next to this file in
``__pycache__`` or, where that is read-only, under ``NUMBA_CACHE_DIR``. Importing this module does
not import numba's compiler until a kernel is first called (see :func:`available`).
"""

from __future__ import annotations

import math
import os

import numpy as np

try:  # numba is a dependency, but keep the package importable (the torch path) without it
    import numba
    from numba import njit, types
    from numba.extending import overload

    _HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only where numba is missing
    _HAVE_NUMBA = False

#: Environment variable that forces a kernel: "torch" or "fused" (default: fused for softmax on CPU).
KERNEL_ENV = "ICDENOISE_KERNEL"


def available() -> bool:
    """True when the fused kernels can run (numba importable)."""
    return _HAVE_NUMBA


if _HAVE_NUMBA:

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
                    kf = math.floor(x * np.float32(1.4426950408889634) + np.float32(0.5))
                    r = x - kf * np.float32(0.693359375)
                    r = r - kf * np.float32(-2.12194440e-4)
                    p = np.float32(1.9875691500e-4)
                    p = p * r + np.float32(1.3981999507e-3)
                    p = p * r + np.float32(8.3334519073e-3)
                    p = p * r + np.float32(4.1665795894e-2)
                    p = p * r + np.float32(1.6666665459e-1)
                    p = p * r + np.float32(5.0000001201e-1)
                    s[l] = p * r * r + r + np.float32(1.0)
                    ibuf[l] = (np.int32(kf) + np.int32(127)) << 23
                for l in range(L):
                    s[l] = s[l] * fbuf[l]
                return _sum(s)

            return impl32

        def impl64(s, m, ibuf):
            for l in range(s.shape[0]):
                s[l] = math.exp(s[l] - m)
            return _sum(s)

        return impl64

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

    @njit(fastmath=False, cache=True)
    def _forward(X, q, Wkq, Wpv, k, s, ibuf, v, out):
        """One prompt: k = W_KQ q, s = softmax(kᵀX) (in place), v = X s, out = W_PV v."""
        n, L = X.shape
        for i in range(n):
            a = Wkq[i, 0] * q[0]
            for j in range(1, n):
                a += Wkq[i, j] * q[j]
            k[i] = a
        k0 = k[0]
        for l in range(L):
            s[l] = k0 * X[0, l]
        for i in range(1, n):
            ki = k[i]
            for l in range(L):
                s[l] += ki * X[i, l]
        m = s[0]
        for l in range(1, L):
            m = max(m, s[l])
        z = _exp_shift(s, m, ibuf)
        for l in range(L):
            s[l] = s[l] / z
        for i in range(n):
            v[i] = _dot(X[i], s)
        for i in range(n):
            a = Wpv[i, 0] * v[0]
            for j in range(1, n):
                a += Wpv[i, j] * v[j]
            out[i] = a

    @njit(fastmath=False, cache=True)
    def softmax_grads(XT, q, t, idx, W, G, scale):
        """G[r] = gradient of the mean per-component MSE of member r's batch idx[r] w.r.t. W[r] (r < len(idx)).

        XT (R, P, n, L), q and t (R, P, n), idx (A, B) int64 prompt indices (A <= R active members),
        W and G (R, 2, n, n); ``scale`` = 2 / (B n) in the data's dtype.
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
        for r in range(A):
            Wkq, Wpv = W[r, 0], W[r, 1]
            Gkq, Gpv = G[r, 0], G[r, 1]
            Gkq[:] = 0
            Gpv[:] = 0
            for b in range(B):
                pi = idx[r, b]
                X = XT[r, pi]
                qb = q[r, pi]
                _forward(X, qb, Wkq, Wpv, k, s, ibuf, v, out)
                for i in range(n):
                    err[i] = (out[i] - t[r, pi, i]) * scale
                for i in range(n):
                    ei = err[i]
                    for j in range(n):
                        Gpv[i, j] += ei * v[j]
                for j in range(n):
                    a = Wpv[0, j] * err[0]
                    for i in range(1, n):
                        a += Wpv[i, j] * err[i]
                    gv[j] = a
                c = v[0] * gv[0]
                for i in range(1, n):
                    c += v[i] * gv[i]
                g0 = gv[0]
                for l in range(L):
                    gs[l] = g0 * X[0, l]
                for i in range(1, n):
                    gi = gv[i]
                    for l in range(L):
                        gs[l] += gi * X[i, l]
                for l in range(L):
                    gs[l] = s[l] * (gs[l] - c)
                for i in range(n):
                    gk = _dot(X[i], gs)
                    for j in range(n):
                        Gkq[i, j] += gk * qb[j]

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
        for r in range(A):
            for p in range(P):
                _forward(XT[r, p], q[r, p], W[r, 0], W[r, 1], k, s, ibuf, v, out)
                d = out[0] - t[r, p, 0]
                e = d * d
                for i in range(1, n):
                    d = out[i] - t[r, p, i]
                    e += d * d
                mse[r, p] = e / n


def kernel_choice(requested: str | None, model: str, device_type: str) -> str:
    """"fused" or "torch" for one sub-ensemble.

    ``requested``: "auto"/None (fused for softmax on CPU when numba is there, torch otherwise), "torch"
    or "fused". The environment variable ``ICDENOISE_KERNEL`` (torch/fused/auto) overrides "auto".
    Linear attention and CUDA always use torch (linear reads only the n x n moment; CUDA wants one
    launch sequence).
    """
    req = (requested or "auto").lower()
    if req == "auto":
        req = os.environ.get(KERNEL_ENV, "auto").strip().lower() or "auto"
    if req not in ("auto", "torch", "fused"):
        raise ValueError(f"kernel must be 'auto', 'torch' or 'fused' (also via ${KERNEL_ENV}), got {req!r}")
    if model != "softmax" or device_type != "cpu":
        return "torch"
    if req == "torch":
        return "torch"
    if req == "fused" and not _HAVE_NUMBA:
        raise RuntimeError("kernel 'fused' needs numba, which is not installed")
    return "fused" if _HAVE_NUMBA else "torch"


def warm_up(dtype=np.float32) -> None:
    """Compile (or load from the disk cache) both kernels for ``dtype`` on a tiny problem."""
    XT = np.zeros((1, 1, 2, 3), dtype)
    q = np.zeros((1, 1, 2), dtype)
    W = np.zeros((1, 2, 2, 2), dtype)
    softmax_grads(XT, q, q, np.zeros((1, 1), np.int64), W, np.empty_like(W), dtype(1.0))
    softmax_mse(XT, q, q, W, np.empty((1, 1), dtype), 1)


__all__ = ["KERNEL_ENV", "available", "kernel_choice", "softmax_grads", "softmax_mse", "warm_up"]
if _HAVE_NUMBA:
    NUMBA_VERSION = numba.__version__
