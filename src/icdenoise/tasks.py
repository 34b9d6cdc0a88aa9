"""Prompt samplers for the three in-context denoising tasks (paper §2.2, Fig. 2).

A prompt is E = (X_1, ..., X_L, x̃) with L clean context tokens and one noisy query
x̃ = X_{L+1} + Z, Z ~ N(0, σ_Z² I_n). Every prompt draws its own task (subspace, sphere or
mixture centres), which is what makes the problem in-context.

Shapes (row convention, tokens are rows): context ``X`` is (B, L, n), ``x_query`` and
``x_target`` are (B, n). The paper writes X as the n x L matrix of columns; ``X_T`` holds that
(B, n, L) layout too, because the softmax kernels read each layout in its fastest direction.
Sampling is numpy (no torch import: a sampling job starts in a fraction of a second), in float64
from a ``numpy.random.Generator`` (PCG64, bit-reproducible from a seed); the prompts are returned
as float32 arrays and the oracle task information as float64 arrays.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

CASES = ("subspace", "sphere", "gmm")

#: Parameters each case needs (besides n and L).
CASE_PARAMS = {
    "subspace": ("d", "sigma0_2", "sigma_z2"),
    "sphere": ("d", "R", "sigma_z2"),
    "gmm": ("p", "R", "sigma0_2", "sigma_z2"),
}


def derive_seed(*parts: object) -> int:
    """A 63-bit seed derived from (base seed, names, ...) by SHA-256; stable across processes.

    The parts are encoded as a JSON list of strings, so ("a|b",) and ("a", "b") differ.
    """
    text = json.dumps([str(p) for p in parts]).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big") >> 1


@dataclass
class PromptBatch:
    """A batch of prompts and the oracle information about each prompt's task.

    ``task`` holds: subspace -> ``basis`` (B, n, d) orthonormal; sphere -> ``basis`` (B, n, d+1)
    orthonormal (the sphere of radius R lives in its span); gmm -> ``centres`` (B, p, n) and
    ``weights`` (B, p). Task arrays are float64.
    """

    X: np.ndarray
    x_query: np.ndarray
    x_target: np.ndarray
    task: dict[str, np.ndarray]
    params: dict = field(default_factory=dict)

    @property
    def num_prompts(self) -> int:
        return self.X.shape[0]

    @property
    def X_T(self) -> np.ndarray:
        """Context in the paper's (B, n, L) layout (a contiguous copy)."""
        return np.ascontiguousarray(self.X.transpose(0, 2, 1))

    def subset(self, index) -> PromptBatch:
        """The prompts ``index`` of this batch (e.g. the train or test split)."""
        return PromptBatch(
            X=self.X[index],
            x_query=self.x_query[index],
            x_target=self.x_target[index],
            task={k: v[index] for k, v in self.task.items()},
            params=dict(self.params),
        )


def haar_basis(num: int, n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``num`` Haar-random orthonormal n x k frames: QR of a Gaussian matrix with sign(diag R) fix."""
    if not 1 <= k <= n:
        raise ValueError(f"subspace dimension k={k} must satisfy 1 <= k <= n={n}")
    G = rng.standard_normal((num, n, k))
    Q, Rm = np.linalg.qr(G)
    signs = np.where(np.diagonal(Rm, axis1=-2, axis2=-1) >= 0, 1.0, -1.0)
    return Q * signs[:, None, :]


#: Prompts per chunk of the numpy samplers: each chunk's float64 tokens (~8 MB at L = 2000) are drawn,
#: transformed and stored as float32 while in cache, instead of several full-size float64 temporaries.
SAMPLE_CHUNK = 32


def _tokens_in_chunks(num_prompts: int, L: int, n: int, make_tokens) -> tuple[np.ndarray, np.ndarray]:
    """Context X (B, L, n) float32 and clean targets (B, n) float64 from ``make_tokens(chunk) -> (b, L+1, n)``.

    ``make_tokens`` is called on consecutive prompt slices in order, so its draws from the generator come in
    the same order, and give the same numbers, as one draw of the whole (B, L+1, ...) array would."""
    X = np.empty((num_prompts, L, n), np.float32)
    x_target = np.empty((num_prompts, n))
    for start in range(0, num_prompts, SAMPLE_CHUNK):
        sl = slice(start, min(start + SAMPLE_CHUNK, num_prompts))
        tokens = make_tokens(sl)  # (b, L+1, n) float64
        X[sl] = tokens[:, :L]
        x_target[sl] = tokens[:, L]
    return X, x_target


def _add_query_noise(X: np.ndarray, x_target: np.ndarray, sigma_z2: float, rng: np.random.Generator):
    """The noisy query x_target + σ_z z, z ~ N(0, I_n), drawn after every token."""
    Z = rng.standard_normal(x_target.shape)
    x_query = x_target + sigma_z2**0.5 * Z
    return X, x_query, x_target


def _check_positive(**values: float) -> None:
    for key, value in values.items():
        if not value > 0:
            raise ValueError(f"{key} must be > 0, got {value!r}")


def _check_ints(n: int, L: int, num_prompts: int) -> None:
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    if L < 1:
        raise ValueError(f"L (number of context tokens) must be >= 1, got {L}")
    if num_prompts < 1:
        raise ValueError(f"num_prompts must be >= 1, got {num_prompts}")


def sample_subspace(num_prompts, n, L, d, sigma0_2, sigma_z2, rng) -> PromptBatch:
    """Case 1: X = P Y, Y ~ N(0, σ0² I_n), P the projector on a Haar-random d-dim subspace."""
    _check_ints(n, L, num_prompts)
    if not 1 <= d < n:
        raise ValueError(f"d must satisfy 1 <= d < n={n} for the subspace case, got d={d}")
    _check_positive(sigma0_2=sigma0_2, sigma_z2=sigma_z2)
    U = haar_basis(num_prompts, n, d, rng)

    def tokens(sl):  # P Y with Y isotropic equals U c with c ~ N(0, σ0² I_d): same law, d/n of the work.
        c = sigma0_2**0.5 * rng.standard_normal((sl.stop - sl.start, L + 1, d))
        return c @ U[sl].transpose(0, 2, 1)

    X, xq, xt = _add_query_noise(*_tokens_in_chunks(num_prompts, L, n, tokens), sigma_z2, rng)
    params = dict(case="subspace", n=n, L=L, d=d, sigma0_2=sigma0_2, sigma_z2=sigma_z2)
    return _batch(X, xq, xt, {"basis": U}, params)


def sample_sphere(num_prompts, n, L, d, R, sigma_z2, rng) -> PromptBatch:
    """Case 2: tokens uniform on the radius-R sphere S^d inside a Haar-random (d+1)-dim subspace."""
    _check_ints(n, L, num_prompts)
    if not 1 <= d < n:
        raise ValueError(f"d must satisfy 1 <= d < n={n} for the sphere case (S^d spans d+1 dims), got d={d}")
    _check_positive(R=R, sigma_z2=sigma_z2)
    V = haar_basis(num_prompts, n, d + 1, rng)

    def tokens(sl):
        u = rng.standard_normal((sl.stop - sl.start, L + 1, d + 1))
        u = R * u / np.linalg.norm(u, axis=-1, keepdims=True)
        return u @ V[sl].transpose(0, 2, 1)

    X, xq, xt = _add_query_noise(*_tokens_in_chunks(num_prompts, L, n, tokens), sigma_z2, rng)
    params = dict(case="sphere", n=n, L=L, d=d, R=R, sigma_z2=sigma_z2)
    return _batch(X, xq, xt, {"basis": V}, params)


def sample_gmm(num_prompts, n, L, p, R, sigma0_2, sigma_z2, rng, weights=None) -> PromptBatch:
    """Case 3: p centres uniform on the radius-R sphere in R^n, weights w_a, component variance σ0²."""
    _check_ints(n, L, num_prompts)
    if p < 1:
        raise ValueError(f"p (number of mixture centres) must be >= 1, got {p}")
    _check_positive(R=R, sigma0_2=sigma0_2, sigma_z2=sigma_z2)
    if weights is None:
        w = np.full(p, 1.0 / p)
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (p,) or (w < 0).any() or abs(float(w.sum()) - 1.0) > 1e-9:
            raise ValueError(f"weights must be {p} non-negative numbers summing to 1, got {weights!r}")
    mu = rng.standard_normal((num_prompts, p, n))
    mu = R * mu / np.linalg.norm(mu, axis=-1, keepdims=True)
    labels = rng.choice(p, size=(num_prompts, L + 1), p=w)

    def tokens(sl):
        centres = np.take_along_axis(mu[sl], labels[sl][..., None], axis=1)
        noise = rng.standard_normal((sl.stop - sl.start, L + 1, n))
        return centres + sigma0_2**0.5 * noise

    X, xq, xt = _add_query_noise(*_tokens_in_chunks(num_prompts, L, n, tokens), sigma_z2, rng)
    params = dict(case="gmm", n=n, L=L, p=p, R=R, sigma0_2=sigma0_2, sigma_z2=sigma_z2)
    task = {"centres": mu, "weights": np.broadcast_to(w, (num_prompts, p)).copy()}
    return _batch(X, xq, xt, task, params)


def _batch(X, x_query, x_target, task, params) -> PromptBatch:
    f32 = np.float32
    return PromptBatch(
        X=np.ascontiguousarray(X, dtype=f32),
        x_query=np.ascontiguousarray(x_query, dtype=f32),
        x_target=np.ascontiguousarray(x_target, dtype=f32),
        task=task,
        params=params,
    )


_SAMPLERS = {"subspace": sample_subspace, "sphere": sample_sphere, "gmm": sample_gmm}


def _check_case(case: str, case_params: dict) -> None:
    if case not in _SAMPLERS:
        raise ValueError(f"unknown case {case!r}; allowed: {', '.join(CASES)}")
    needed = CASE_PARAMS[case]
    missing = [k for k in needed if k not in case_params]
    if missing:
        raise ValueError(f"case {case!r} needs parameters {missing}")
    optional = {"weights"} if case == "gmm" else set()
    extra = sorted(set(case_params) - set(needed) - optional)
    if extra:
        raise ValueError(f"case {case!r} does not take parameters {extra}; allowed: {list(needed)}")


def sample_prompts(case: str, num_prompts: int, seed: int, n: int, L: int, **case_params) -> PromptBatch:
    """Sample ``num_prompts`` prompts of ``case`` reproducibly from ``seed`` (PCG64, float64 draws)."""
    _check_case(case, case_params)
    rng = np.random.default_rng(int(seed))
    return _SAMPLERS[case](num_prompts=num_prompts, n=n, L=L, rng=rng, **case_params)


# ----------------------------------------------------------------------------- fast sampler (online streams)


def sample_prompts_torch(
    case: str, num_prompts: int, seed: int, n: int, L: int, *, out: np.ndarray | None = None, **case_params
) -> PromptBatch:
    """The law of :func:`sample_prompts`, drawn faster: float32 torch draws from ``torch.Generator(seed)``.

    For online training streams (:class:`icdenoise.train.OnlinePrompts` with ``sampler="torch"``), where a
    fresh batch every step would otherwise make numpy sampling the main cost. Same distribution, not the same
    numbers as :func:`sample_prompts` (tests/test_tasks.py compares the moments and the oracle MSEs of the two).
    Tasks (Haar frames by QR with the sign fix, sphere / mixture centres) are float64; the tokens are drawn in
    float32 as low-dimensional coefficients and mapped by one batched matmul, directly in the kernels' (B, n, L)
    layout: ``X`` is returned as a (B, L, n) *view* of that layout. ``out``: a C-contiguous float32 (B, n, L)
    array the context is drawn into (an online stream refills the training buffer in place, no allocation);
    the query token is drawn after the context, from the same task. Single-threaded unless torch is told
    otherwise; torch is imported on first use only.
    """
    import torch

    _check_case(case, case_params)
    _check_ints(n, L, num_prompts)
    P = int(num_prompts)
    if out is None:
        out = np.empty((P, n, L), np.float32)
    elif out.shape != (P, n, L) or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous float32 array of shape {(P, n, L)}, got {out.shape} {out.dtype}")
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    f32, f64 = torch.float32, torch.float64
    context, target = torch.from_numpy(out), torch.empty(P, n, 1, dtype=f32)

    def haar(k: int) -> torch.Tensor:
        if not 1 <= k <= n:
            raise ValueError(f"subspace dimension k={k} must satisfy 1 <= k <= n={n}")
        Q, Rm = torch.linalg.qr(torch.randn(P, n, k, generator=g, dtype=f64))
        signs = torch.where(torch.diagonal(Rm, dim1=-2, dim2=-1) >= 0, 1.0, -1.0).to(f64)
        return Q * signs[:, None, :]

    if case == "subspace":
        d, s0, sz = int(case_params["d"]), float(case_params["sigma0_2"]), float(case_params["sigma_z2"])
        if not 1 <= d < n:
            raise ValueError(f"d must satisfy 1 <= d < n={n} for the subspace case, got d={d}")
        _check_positive(sigma0_2=s0, sigma_z2=sz)
        U = haar(d)
        U32 = U.to(f32).mul_(s0**0.5)
        for tokens in (context, target):  # (P, n, T) = U (P, n, d) @ c (P, d, T), c ~ N(0, sigma0_2 I_d)
            for sl, c in _coefficients(P, d, tokens.shape[-1], g):
                torch.bmm(U32[sl], c, out=tokens[sl])
        task = {"basis": U.numpy()}
    elif case == "sphere":
        d, R, sz = int(case_params["d"]), float(case_params["R"]), float(case_params["sigma_z2"])
        if not 1 <= d < n:
            raise ValueError(f"d must satisfy 1 <= d < n={n} for the sphere case (S^d spans d+1 dims), got d={d}")
        _check_positive(R=R, sigma_z2=sz)
        V = haar(d + 1)
        V32 = V.to(f32)
        for tokens in (context, target):  # (P, n, T) = V (P, n, d+1) @ R u/|u| (P, d+1, T), u ~ N(0, I)
            for sl, u in _coefficients(P, d + 1, tokens.shape[-1], g):
                _sphere_tokens(tokens[sl], V32[sl], u, R)
        task = {"basis": V.numpy()}
    else:  # gmm
        p, R = int(case_params["p"]), float(case_params["R"])
        s0, sz = float(case_params["sigma0_2"]), float(case_params["sigma_z2"])
        if p < 1:
            raise ValueError(f"p (number of mixture centres) must be >= 1, got {p}")
        _check_positive(R=R, sigma0_2=s0, sigma_z2=sz)
        w = np.full(p, 1.0 / p) if case_params.get("weights") is None else np.asarray(case_params["weights"], float)
        if w.shape != (p,) or (w < 0).any() or abs(float(w.sum()) - 1.0) > 1e-9:
            raise ValueError(f"weights must be {p} non-negative numbers summing to 1, got {case_params['weights']!r}")
        mu = torch.randn(P, p, n, generator=g, dtype=f64)
        mu = R * mu / torch.linalg.vector_norm(mu, dim=-1, keepdim=True)
        muT = mu.to(f32).transpose(1, 2).contiguous()  # (P, n, p)
        cdf = torch.as_tensor(np.cumsum(w), dtype=f64)
        for tokens in (context, target):  # x = mu_label + sqrt(sigma0_2) z, label ~ weights
            T = tokens.shape[-1]
            if np.all(w == w[0]):
                labels = torch.randint(0, p, (P, T), generator=g)
            else:  # inverse CDF of the weights
                labels = torch.searchsorted(cdf, torch.rand(P, T, generator=g, dtype=f64), right=True).clamp_(max=p - 1)
            tokens.normal_(generator=g)
            _scale_add_centres(tokens, muT, labels, s0**0.5)
        task = {"centres": mu.numpy(), "weights": np.broadcast_to(w, (P, p)).copy()}
    x_target = target[:, :, 0].contiguous()
    x_query = x_target + torch.randn(P, n, generator=g, dtype=f32).mul_(float(case_params["sigma_z2"]) ** 0.5)
    params = dict(case=case, n=n, L=L, **{k: case_params[k] for k in CASE_PARAMS[case]})
    return PromptBatch(
        X=out.transpose(0, 2, 1), x_query=x_query.numpy(), x_target=x_target.numpy(), task=task, params=params
    )


#: Prompts per chunk of the torch sampler's low-dimensional coefficients: one small buffer, reused (a fresh
#: 58 MB tensor per epoch costs more in page faults than drawing its numbers).
COEF_CHUNK = 32


def _coefficients(P: int, k: int, T: int, g):
    """(slice, N(0, 1) float32 (b, k, T)) for consecutive chunks of COEF_CHUNK prompts, drawn in order from ``g``
    into one reused buffer (valid until the next chunk)."""
    import torch

    buf = torch.empty(min(P, COEF_CHUNK), k, T, dtype=torch.float32)
    for start in range(0, P, COEF_CHUNK):
        stop = min(start + COEF_CHUNK, P)
        yield slice(start, stop), buf[: stop - start].normal_(generator=g)


def _sphere_tokens(tokens, V, u, R: float) -> None:
    """tokens (B, n, T) <- V (B, n, k) @ (R u / |u|) for Gaussian u (B, k, T), float32.

    One fused pass (numba, where installed: faster at large L), else torch (normalise, then bmm)."""
    import torch

    from . import kernels

    if kernels.available() and tokens.is_contiguous():
        kernels.sphere_tokens(u.numpy(), V.contiguous().numpy(), np.float32(R), tokens.numpy())
        return
    norm2 = u[:, 0] * u[:, 0]
    for i in range(1, u.shape[1]):  # over the k rows: much faster than a strided vector_norm
        norm2.addcmul_(u[:, i], u[:, i])
    u.mul_(norm2.rsqrt_().mul_(R).unsqueeze(1))
    torch.bmm(V, u, out=tokens)


def _scale_add_centres(tokens, muT, labels, scale: float) -> None:
    """tokens[b, :, l] <- scale * tokens[b, :, l] + muT[b, :, labels[b, l]], in place ((B, n, T) float32).

    One fused pass (numba, where installed: faster than torch's gather at large L), else torch."""
    import torch

    from . import kernels

    if kernels.available() and tokens.is_contiguous():
        kernels.scale_add_centres(tokens.numpy(), muT.numpy(), labels.numpy(), np.float32(scale))
        return
    B, n, T = tokens.shape
    tokens.mul_(scale).add_(torch.gather(muT, 2, labels[:, None, :].expand(B, n, T)))


#: The samplers an online stream can draw from: the reference numpy one and the fast torch one (same law).
SAMPLERS = {"numpy": sample_prompts, "torch": sample_prompts_torch}
