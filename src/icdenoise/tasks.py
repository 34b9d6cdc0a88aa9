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


def _add_query_noise(tokens: np.ndarray, sigma_z2: float, rng: np.random.Generator):
    """Split (B, L+1, n) tokens into context, noisy query and clean target."""
    X = tokens[:, :-1, :]
    x_target = tokens[:, -1, :]
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
    # P Y with Y isotropic equals U c with c ~ N(0, σ0² I_d): same law, d/n of the work.
    c = sigma0_2**0.5 * rng.standard_normal((num_prompts, L + 1, d))
    tokens = c @ U.transpose(0, 2, 1)
    X, xq, xt = _add_query_noise(tokens, sigma_z2, rng)
    params = dict(case="subspace", n=n, L=L, d=d, sigma0_2=sigma0_2, sigma_z2=sigma_z2)
    return _batch(X, xq, xt, {"basis": U}, params)


def sample_sphere(num_prompts, n, L, d, R, sigma_z2, rng) -> PromptBatch:
    """Case 2: tokens uniform on the radius-R sphere S^d inside a Haar-random (d+1)-dim subspace."""
    _check_ints(n, L, num_prompts)
    if not 1 <= d < n:
        raise ValueError(f"d must satisfy 1 <= d < n={n} for the sphere case (S^d spans d+1 dims), got d={d}")
    _check_positive(R=R, sigma_z2=sigma_z2)
    V = haar_basis(num_prompts, n, d + 1, rng)
    u = rng.standard_normal((num_prompts, L + 1, d + 1))
    u = R * u / np.linalg.norm(u, axis=-1, keepdims=True)
    tokens = u @ V.transpose(0, 2, 1)
    X, xq, xt = _add_query_noise(tokens, sigma_z2, rng)
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
    centres = np.take_along_axis(mu, labels[..., None], axis=1)
    noise = rng.standard_normal((num_prompts, L + 1, n))
    tokens = centres + sigma0_2**0.5 * noise
    X, xq, xt = _add_query_noise(tokens, sigma_z2, rng)
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


def sample_prompts(case: str, num_prompts: int, seed: int, n: int, L: int, **case_params) -> PromptBatch:
    """Sample ``num_prompts`` prompts of ``case`` reproducibly from ``seed`` (PCG64, float64 draws)."""
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
    rng = np.random.default_rng(int(seed))
    return _SAMPLERS[case](num_prompts=num_prompts, n=n, L=L, rng=rng, **case_params)
