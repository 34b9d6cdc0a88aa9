"""Oracle (Bayes-optimal) denoisers and finite-L linear-attention theory (paper §2.3, App. C).

Every denoiser here knows the true task of each prompt (subspace basis, sphere subspace, mixture
centres) and ignores the context: it is the oracle against which trained attention is compared.
All functions are pure numpy/scipy in float64, vectorised over a leading batch axis of prompts,
and accept numpy arrays or torch tensors (converted on entry; torch is never imported here).

Conventions: ``x_query`` is (B, n) (the noisy query x̃), ``basis`` is (B, n, k) with orthonormal
columns, ``centres`` is (B, p, n) and ``weights`` is (B, p) (or (p,), broadcast). Every MSE in this
module is **per component**, ‖x̂ − x‖²/n, the quantity on the paper's "MSE/n" axes.
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = [
    "mse_per_component",
    "bayes_optimal_subspace",
    "bayes_mse_subspace",
    "projection_subspace",
    "bessel_ratio",
    "sphere_bessel_estimator",
    "authors_sphere_bessel_order",
    "linear_shrinkage_sphere",
    "sphere_linear_shrinkage_mse",
    "bayes_optimal_sphere",
    "projection_sphere",
    "bayes_optimal_gmm",
    "bayes_optimal_gmm_sigma0_to_0",
    "zero_predictor_mse",
    "linear_attention_gamma_star",
    "linear_attention_finite_L_mse",
    "bayes_mse_monte_carlo",
]


def _np(x) -> np.ndarray:
    """float64 numpy view/copy of a numpy array, sequence, scalar or torch tensor."""
    if hasattr(x, "detach"):  # torch.Tensor (duck-typed so torch is not imported here)
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _coords(x_query: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Coordinates Uᵀx̃ (B, k) of the query in the orthonormal frame U (B, n, k)."""
    return np.matmul(x_query[:, None, :], basis)[:, 0, :]


def _from_coords(c: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """U c (B, n) from coordinates c (B, k)."""
    return np.matmul(basis, c[:, :, None])[:, :, 0]


# --------------------------------------------------------------------------------------------
# Generic
# --------------------------------------------------------------------------------------------


def mse_per_component(x_hat, x) -> np.ndarray:
    """Per-prompt MSE PER COMPONENT, ‖x̂ − x‖²/n (paper Eq. 1 loss divided by n), shape (B,)."""
    x_hat, x = _np(x_hat), _np(x)
    diff = x_hat - x
    return np.einsum("...i,...i->...", diff, diff) / x.shape[-1]


# --------------------------------------------------------------------------------------------
# Case 1: linear subspaces
# --------------------------------------------------------------------------------------------


def bayes_optimal_subspace(x_query, basis, sigma0_2, sigma_z2) -> np.ndarray:
    """Prop. 2 (Eq. 3): f = σ0²/(σ0²+σZ²) P x̃, P = U Uᵀ; its MSE PER COMPONENT is bayes_mse_subspace."""
    x_query, basis = _np(x_query), _np(basis)
    shrink = sigma0_2 / (sigma0_2 + sigma_z2)
    return shrink * _from_coords(_coords(x_query, basis), basis)


def bayes_mse_subspace(n, d, sigma0_2, sigma_z2) -> float:
    """Prop. 2 (Eq. 4) divided by n: Bayes MSE PER COMPONENT (d/n) σ0²σZ²/(σ0²+σZ²) (1/3 at paper settings)."""
    return float(d / n * sigma0_2 * sigma_z2 / (sigma0_2 + sigma_z2))


def projection_subspace(x_query, basis) -> np.ndarray:
    """Fig. 2 unshrunk projection P x̃ (Prop. 2 baseline); MSE PER COMPONENT (d/n)σZ² (0.5 at paper settings)."""
    x_query, basis = _np(x_query), _np(basis)
    return _from_coords(_coords(x_query, basis), basis)


# --------------------------------------------------------------------------------------------
# Case 2: spheres
# --------------------------------------------------------------------------------------------

#: ive values below this are treated as (near-)underflowed and the ratio is taken from the
#: continued fraction instead (subnormal numbers carry too few significant digits).
_IVE_TINY = 1e-280
#: Number of backward-recurrence steps of the continued-fraction fallback.
_CF_STEPS = 64


def _bessel_ratio_cf(nu: np.ndarray, x: np.ndarray, steps: int = _CF_STEPS) -> np.ndarray:
    """I_ν(x)/I_{ν−1}(x) by backward recurrence of the Gauss continued fraction (x > 0).

    From I_{ν−1} − I_{ν+1} = (2ν/x) I_ν: r(ν) = x / (2ν + x r(ν+1)). The tail r(ν+K) = R_μ =
    I_{μ+1}/I_μ, μ = ν+K−1, is started from the midpoint of Amos's (1974) bounds
    x/(μ+½+√((μ+3/2)²+x²)) ≤ R_μ ≤ x/(μ+½+√((μ+½)²+x²)); each
    downward step contracts the starting error by a factor ≈ r², so K = 64 steps give full double
    precision whenever x ≲ ν + K (the only place it is used: where ive underflows, x ≪ ν), and
    still a relative error well below 1e-8 up to x ~ 1e6 because the Amos midpoint is itself
    accurate to O(1/x²) there.
    """
    mu = nu + steps - 1.0
    lo = x / (mu + 0.5 + np.sqrt((mu + 1.5) ** 2 + x * x))
    hi = x / (mu + 0.5 + np.sqrt((mu + 0.5) ** 2 + x * x))
    r = 0.5 * (lo + hi)
    for k in range(steps - 1, -1, -1):
        r = x / (2.0 * (nu + k) + x * r)
    return r


def bessel_ratio(nu, kappa):
    """Prop. 3 (Eq. 6) shrinkage factor I_ν(κ)/I_{ν−1}(κ) ∈ [0, 1), via exponentially scaled ive.

    ``nu`` (≥ ½) and ``kappa`` (≥ 0) broadcast against each other. The ratio of scipy's
    ``ive(ν, κ) = e^{−κ} I_ν(κ)`` is exact in the ratio and finite for κ up to 1e6 and beyond.
    At κ = 0 it returns 0 (I_ν(0) = 0 for ν > 0). Where ive underflows (large ν with small κ:
    e.g. ive(200.5, 1e-3) = 0.0) or returns a subnormal/non-finite value, the ratio is taken
    instead from the Gauss continued fraction (backward recurrence, ``_bessel_ratio_cf``), which is
    accurate precisely in that regime (κ ≪ ν, r ≈ κ/(2ν)).
    """
    nu_a = np.asarray(nu, dtype=np.float64)
    k_a = np.asarray(kappa, dtype=np.float64)
    if np.any(nu_a < 0.5):
        raise ValueError(f"bessel_ratio needs nu >= 1/2, got {nu!r}")
    if np.any(k_a < 0) or np.any(np.isnan(k_a)):
        raise ValueError("bessel_ratio needs kappa >= 0")
    nu_b, k_b = np.broadcast_arrays(nu_a, k_a)
    with np.errstate(all="ignore"):
        num = special.ive(nu_b, k_b)
        den = special.ive(nu_b - 1.0, k_b)
        out = num / den
    bad = (k_b > 0) & np.isfinite(k_b) & ~(np.isfinite(out) & (den > _IVE_TINY) & (num > _IVE_TINY))
    if np.any(bad):
        out = np.array(out, dtype=np.float64, copy=True)
        out[bad] = _bessel_ratio_cf(nu_b[bad], k_b[bad])
    out = np.where(k_b == 0, 0.0, out)
    # inf kappa → 1 (ive(ν, inf) is 0/0); keep the documented range [0, 1].
    out = np.where(np.isinf(k_b), 1.0, out)
    return out[()] if out.ndim == 0 else out


def _sphere_parallel(x_query, basis):
    """Coordinates c = Vᵀx̃ (B, d+1) of x̃∥ and its norm (B,)."""
    c = _coords(x_query, basis)
    norm = np.sqrt(np.einsum("bi,bi->b", c, c))
    return c, norm


def sphere_bessel_estimator(x_query, basis, R, sigma_z2, nu) -> np.ndarray:
    """Prop. 3 form with an arbitrary Bessel order: R·I_ν(κ)/I_{ν−1}(κ)·x̃∥/‖x̃∥‖, κ = R‖x̃∥‖/σZ².

    ν = (d+1)/2 is the Bayes estimator (bayes_optimal_sphere); ν = 7.5 for d = 8 reproduces the
    authors' code (wrong orders I_{7.5}/I_{6.5}). MSE PER COMPONENT via mse_per_component.
    """
    x_query, basis = _np(x_query), _np(basis)
    c, norm = _sphere_parallel(x_query, basis)
    kappa = R * norm / sigma_z2
    ratio = bessel_ratio(nu, kappa)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(norm > 0, R * ratio / norm, 0.0)  # x̃∥ = 0 (measure zero): f = 0
    return _from_coords(scale[:, None] * c, basis)


def linear_shrinkage_sphere(x_query, basis, R, sigma_z2) -> np.ndarray:
    """The best linear oracle for the sphere case: c·x̃∥ with c = R²/(R² + (d+1)σZ²); MSE PER COMPONENT ≈ 0.0296.

    E⟨x, x̃∥⟩ = R² and E‖x̃∥‖² = R² + (d+1)σZ² give the optimal c and the expected MSE
    R²(d+1)σZ² / (n (R² + (d+1)σZ²)) (sphere_linear_shrinkage_mse); Bayes (Prop. 3) must beat it.
    """
    x_query, basis = _np(x_query), _np(basis)
    k = basis.shape[-1]
    c = R**2 / (R**2 + k * sigma_z2)
    return _from_coords(c * _coords(x_query, basis), basis)


def sphere_linear_shrinkage_mse(n, d, R, sigma_z2) -> float:
    """Expected MSE PER COMPONENT of linear_shrinkage_sphere: R²(d+1)σZ² / (n (R² + (d+1)σZ²))."""
    return float(R**2 * (d + 1) * sigma_z2 / (n * (R**2 + (d + 1) * sigma_z2)))


def authors_sphere_bessel_order(n: int) -> float:
    """The Bessel order ν of the authors' sphere "Bayes" estimator: (n−1)/2, from the ambient dimension n.

    Their code used I_{7.5}/I_{6.5} at n = 16, d = 8, where Prop. 3 needs ν = (d+1)/2 = 4.5. The two
    agree only when d = n − 2. Used for the deviations table (estimator "bayes_authors_bessel").
    """
    return (int(n) - 1) / 2.0


def bayes_optimal_sphere(x_query, basis, R, sigma_z2) -> np.ndarray:
    """Prop. 3 (Eq. 6): f = R·I_{(d+1)/2}(κ)/I_{(d−1)/2}(κ)·x̃∥/‖x̃∥‖, κ = R‖x̃∥‖/σZ²; MSE PER COMPONENT ≈ 0.0290."""
    basis = _np(basis)
    d = basis.shape[-1] - 1
    return sphere_bessel_estimator(x_query, basis, R, sigma_z2, (d + 1) / 2.0)


def projection_sphere(x_query, basis, R) -> np.ndarray:
    """Prop. 3 κ→∞ limit (Fig. 2 projection onto S): R x̃∥/‖x̃∥‖; MSE PER COMPONENT ≈ 0.0340 at paper settings."""
    x_query, basis = _np(x_query), _np(basis)
    c, norm = _sphere_parallel(x_query, basis)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(norm > 0, R / norm, 0.0)
    return _from_coords(scale[:, None] * c, basis)


# --------------------------------------------------------------------------------------------
# Case 3: Gaussian mixtures
# --------------------------------------------------------------------------------------------


def _mixture_mean(x_query, centres, weights, var):
    """Σ_a π_a µ_a with π_a ∝ w_a exp((⟨µ_a,x̃⟩ − ‖µ_a‖²/2)/var) = w_a N(x̃; µ_a, var I), by log-sum-exp."""
    x_query, centres, weights = _np(x_query), _np(centres), _np(weights)
    weights = np.broadcast_to(weights, centres.shape[:-1])
    dots = np.matmul(centres, x_query[:, :, None])[:, :, 0]  # (B, p)
    sq = np.einsum("bpn,bpn->bp", centres, centres)
    with np.errstate(divide="ignore"):
        logits = (dots - 0.5 * sq) / var + np.log(weights)
    logits -= logits.max(axis=1, keepdims=True)
    post = np.exp(logits)
    post /= post.sum(axis=1, keepdims=True)
    return np.matmul(post[:, None, :], centres)[:, 0, :]


def bayes_optimal_gmm(x_query, centres, weights, sigma0_2, sigma_z2) -> np.ndarray:
    """Prop. 4 (Eq. 7; App. C.3 general form): a x̃ + (1−a) Σ π_a µ_a, a = σ0²/(σ0²+σZ²); MSE PER COMPONENT ≈ 0.0230.

    π_a ∝ w_a exp((⟨µ_a,x̃⟩ − ‖µ_a‖²/2)/(σ0²+σZ²)) is the posterior of component a. The ‖µ_a‖²
    term (from completing the square in App. C.3) cancels when all ‖µ_a‖ = R, as in Eq. 7, and is
    kept so the formula is exact for centres of unequal norms.
    """
    s = sigma0_2 + sigma_z2
    a = sigma0_2 / s
    x_query = _np(x_query)
    return a * x_query + (1.0 - a) * _mixture_mean(x_query, centres, weights, s)


def bayes_optimal_gmm_sigma0_to_0(x_query, centres, weights, sigma_z2) -> np.ndarray:
    """Prop. 4 σ0→0 limit (Eq. 8): Σ π_a µ_a, π_a ∝ w_a e^{(⟨µ_a,x̃⟩−‖µ_a‖²/2)/σZ²}.

    MSE PER COMPONENT ≈ 0.0262 at σ0² = 0.02.
    """
    return _mixture_mean(x_query, centres, weights, sigma_z2)


# --------------------------------------------------------------------------------------------
# Baselines and finite-L linear attention theory
# --------------------------------------------------------------------------------------------


def zero_predictor_mse(case, n, **params) -> float:
    """E‖x‖²/n, the MSE PER COMPONENT of x̂ = 0 (Fig. 3 baseline): subspace dσ0²/n, sphere R²/n, gmm (R²+nσ0²)/n."""
    if case == "subspace":
        return float(params["d"] * params["sigma0_2"] / n)
    if case == "sphere":
        return float(params["R"] ** 2 / n)
    if case == "gmm":
        return float((params["R"] ** 2 + n * params["sigma0_2"]) / n)
    raise ValueError(f"unknown case {case!r}")


def linear_attention_gamma_star(L, d, sigma0_2, sigma_z2) -> float:
    """Finite-L optimum (case 1, §3.2/Fig. 4a) of γ = αβ for x̂ = γ S x̃, S = XXᵀ/L: γ* = L/((σ0²+σZ²)(L+d+1)).

    Derivation (Wishart moments): with x_t = U c_t, c_t ~ N(0, σ0² I_d), S = U W Uᵀ and
    W = (1/L)Σ c_t c_tᵀ has E[W] = σ0² I_d, E[W²] = σ0⁴ (L+d+1)/L I_d. Writing y = Uᵀx̃ = c + Uᵀz
    ~ N(0, (σ0²+σZ²) I_d) independent of W, the summed error is
    E‖γWy − c‖² = γ²(σ0²+σZ²) d σ0⁴ (L+d+1)/L − 2γ d σ0⁴ + d σ0², minimised at γ* above
    (→ 1/(σ0²+σZ²) as L → ∞). See linear_attention_finite_L_mse for the MSE PER COMPONENT.
    """
    return float(L / ((sigma0_2 + sigma_z2) * (L + d + 1)))


def linear_attention_finite_L_mse(L, n, d, sigma0_2, sigma_z2, gamma=None) -> float:
    """MSE PER COMPONENT of x̂ = γ (1/L) X Xᵀ x̃ on case 1 (Fig. 4a theory curve), default γ = γ*(L).

    General γ (derivation in linear_attention_gamma_star):
        MSE(γ) = (d/n) [γ² (σ0²+σZ²) σ0⁴ (L+d+1)/L − 2γ σ0⁴ + σ0²],
    and at γ = γ*(L): MSE = (d/n) σ0² (1 − σ0² γ*(L))  (L=500: 0.34512; L→∞: Bayes 1/3).
    """
    if gamma is None:
        gamma = linear_attention_gamma_star(L, d, sigma0_2, sigma_z2)
    s = sigma0_2 + sigma_z2
    s0sq = sigma0_2 * sigma0_2
    return float(d / n * (gamma * gamma * s * s0sq * (L + d + 1) / L - 2.0 * gamma * s0sq + sigma0_2))


# --------------------------------------------------------------------------------------------
# Monte Carlo of every oracle
# --------------------------------------------------------------------------------------------


def oracle_predictions(case: str, x_query: np.ndarray, task: dict, params: dict) -> dict[str, np.ndarray]:
    """Every oracle of a case (Props. 2-4, Eq. 8, projections, zero) applied to the queries: name -> x̂ (B, n)."""
    zero = np.zeros_like(x_query, dtype=np.float64)
    if case == "subspace":
        U = task["basis"]
        return {
            "zero": zero,
            "bayes": bayes_optimal_subspace(x_query, U, params["sigma0_2"], params["sigma_z2"]),
            "projection": projection_subspace(x_query, U),
        }
    if case == "sphere":
        V = task["basis"]
        return {
            "zero": zero,
            "bayes": bayes_optimal_sphere(x_query, V, params["R"], params["sigma_z2"]),
            "projection": projection_sphere(x_query, V, params["R"]),
            "linear_shrinkage": linear_shrinkage_sphere(x_query, V, params["R"], params["sigma_z2"]),
            # the authors' code: Bessel orders of the ambient dimension, I_{(n-1)/2}/I_{(n-3)/2}
            # (I_{7.5}/I_{6.5} at n = 16) instead of I_{(d+1)/2}/I_{(d-1)/2}
            "bayes_authors_bessel": sphere_bessel_estimator(
                x_query, V, params["R"], params["sigma_z2"], authors_sphere_bessel_order(np.shape(x_query)[-1])
            ),
        }
    if case == "gmm":
        mu, w = task["centres"], task["weights"]
        return {
            "zero": zero,
            "bayes": bayes_optimal_gmm(x_query, mu, w, params["sigma0_2"], params["sigma_z2"]),
            "bayes_sigma0_to_0": bayes_optimal_gmm_sigma0_to_0(x_query, mu, w, params["sigma_z2"]),
        }
    raise ValueError(f"unknown case {case!r}")


def theory_mse(case: str, n: int, params: dict) -> dict[str, float]:
    """Closed-form expected per-component MSEs where the paper gives them (Prop. 2, zero predictor)."""
    out = {"zero": zero_predictor_mse(case, n, **params)}
    if case == "subspace":
        d, s0, sz = params["d"], params["sigma0_2"], params["sigma_z2"]
        out["bayes"] = bayes_mse_subspace(n, d, s0, sz)
        out["projection"] = d / n * sz
    if case == "sphere":
        out["linear_shrinkage"] = sphere_linear_shrinkage_mse(n, params["d"], params["R"], params["sigma_z2"])
    return out


def bayes_mse_monte_carlo(case, num_prompts, seed, n, *, chunk_size=100_000, return_se=False, **params):
    """Monte Carlo MSE PER COMPONENT of every oracle for ``case`` (Props. 2-4), on fresh L=1 prompts.

    Returns {"zero", "bayes", and "projection" (subspace, sphere; sphere also "linear_shrinkage" and the
    authors' wrong-order "bayes_authors_bessel") or "bayes_sigma0_to_0" (gmm)}
    mapped to mean ‖x̂ − x‖²/n over ``num_prompts`` prompts. Prompts are drawn in chunks of
    ``chunk_size`` (chunk 0 from ``seed`` itself, so a single chunk equals
    ``sample_prompts(case, num_prompts, seed, n, L=1, ...)``; chunk i > 0 from
    ``derive_seed(seed, "bayes_mc", i)``). With ``return_se=True`` returns {"mean": ..., "se": ...}
    with the standard error std/√N of each mean as well.
    """
    from .tasks import derive_seed, sample_prompts

    if num_prompts < 1:
        raise ValueError(f"num_prompts must be >= 1, got {num_prompts}")
    per_prompt: dict[str, list] = {}
    done, i = 0, 0
    while done < num_prompts:
        m = min(chunk_size, num_prompts - done)
        chunk_seed = seed if i == 0 else derive_seed(seed, "bayes_mc", i)
        batch = sample_prompts(case, m, chunk_seed, n, 1, **params)
        target = _np(batch.x_target)
        for key, pred in oracle_predictions(case, batch.x_query, batch.task, params).items():
            per_prompt.setdefault(key, []).append(mse_per_component(pred, target))
        done += m
        i += 1
    mean, se = {}, {}
    for key, parts in per_prompt.items():
        v = np.concatenate(parts)
        mean[key] = float(v.mean())
        se[key] = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else float("nan")
    return {"mean": mean, "se": se} if return_se else mean
