"""Prompt samplers of §2.2 (icdenoise.tasks).

Statistical checks state their tolerance in standard errors (SE) of the estimate, computed from the
known law of the sample; 5 SE keeps a false alarm below ~1e-6 per compared number, and every seed is
fixed, so the tests are deterministic.
"""

import math

import numpy as np
import pytest
import torch

from icdenoise.tasks import (
    CASE_PARAMS,
    CASES,
    PromptBatch,
    derive_seed,
    haar_basis,
    sample_prompts,
)

SUB = dict(d=3, sigma0_2=2.0, sigma_z2=1.0)
SPH = dict(d=3, R=1.5, sigma_z2=0.1)
GMM = dict(p=4, R=1.0, sigma0_2=0.02, sigma_z2=0.1)
PARAMS = {"subspace": SUB, "sphere": SPH, "gmm": GMM}


def _t(a) -> torch.Tensor:
    """float64 torch copy of a sampler output (numpy array or torch tensor)."""
    return torch.as_tensor(np.asarray(a), dtype=torch.float64)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _raw_gaussian(seed: int, shape) -> torch.Tensor:
    """The Gaussian matrix haar_basis(…, _rng(seed)) draws first, to QR it without the sign fix."""
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape))


def _proj(U: torch.Tensor) -> torch.Tensor:
    U = _t(U)
    return U @ U.transpose(-1, -2)


# ----------------------------------------------------------------------------- subspace (case 1)


def test_subspace_context_has_rank_d_per_prompt_and_lies_in_the_subspace():
    n, L, d = 8, 20, 3
    b = sample_prompts("subspace", 10, 0, n=n, L=L, **{**SUB, "d": d})
    X = _t(b.X)
    assert X.shape == (10, L, n) and b.x_query.shape == (10, n) and b.x_target.shape == (10, n)
    assert _t(b.task["basis"]).shape == (10, n, d)
    # float32 storage leaves ~1e-7 relative residue off the subspace: rank d means d singular values
    # of order one and the rest at rounding level
    sv = torch.linalg.svdvals(X)
    assert (sv[:, d - 1] / sv[:, 0] > 1e-2).all() and (sv[:, d] / sv[:, 0] < 1e-5).all()
    assert torch.linalg.matrix_rank(X, rtol=1e-5).tolist() == [d] * 10
    # every token, and the clean query target, lies in span(U): (I - UUᵀ) X = 0 up to float32 rounding
    P = _proj(b.task["basis"])
    assert torch.allclose(X @ P, X, atol=1e-5)
    assert torch.allclose((P @ _t(b.x_target).unsqueeze(-1)).squeeze(-1), _t(b.x_target), atol=1e-5)
    # the basis is orthonormal
    UtU = _t(b.task["basis"]).transpose(1, 2) @ _t(b.task["basis"])
    assert torch.allclose(UtU, torch.eye(d, dtype=torch.float64).expand(10, d, d), atol=1e-12)


def test_subspace_token_covariance_is_sigma0_sq_times_projector():
    """Pool L = 20000 tokens of ONE prompt: (1/L) XᵀX ≈ Σ = σ0² P entrywise.

    For Gaussian tokens Var(x_i x_j) = Σ_ii Σ_jj + Σ_ij², so the SE of each entry is
    sqrt((Σ_ii Σ_jj + Σ_ij²)/L) (≈ 0.03 here); tolerance 5 SE per entry.
    """
    n, L, d, s0 = 6, 20000, 2, 2.0
    b = sample_prompts("subspace", 1, 7, n=n, L=L, d=d, sigma0_2=s0, sigma_z2=1.0)
    X = _t(b.X[0])
    emp = X.T @ X / L
    Sigma = s0 * _proj(b.task["basis"][0])
    se = ((torch.outer(Sigma.diagonal(), Sigma.diagonal()) + Sigma**2) / L).sqrt().clamp_min(1e-12)
    z = (emp - Sigma) / se
    # every entry within 5 SE (36 entries: a false alarm has probability ~1e-5)
    assert z.abs().max() < 5.0, z
    # the trace (= σ0² d in expectation) is a sharper aggregate: Var(tr) = 2 σ0⁴ d / L
    assert abs(emp.trace() - s0 * d) < 5 * math.sqrt(2 * s0**2 * d / L)
    # and the covariance is clearly not isotropic: its rank-d structure is seen
    assert torch.linalg.matrix_rank(emp, atol=1e-3).item() == d


def test_haar_projection_average_is_d_over_n_identity():
    """E[U Uᵀ] = (d/n) I for a Haar-random d-frame.

    Each entry of UUᵀ is bounded by 1 in absolute value; its per-draw standard deviation is at most
    sqrt(d/n) for the diagonal ((UUᵀ)_ii ∈ [0, 1] with mean d/n) — we use the empirical SD of each
    entry over the draws for the SE, tolerance 5 SE.
    """
    n, d, N = 6, 2, 20000
    U = _t(haar_basis(N, n, d, _rng(1)))
    P = _proj(U)
    mean = P.mean(0)
    se = P.std(0) / math.sqrt(N)
    target = (d / n) * torch.eye(n, dtype=torch.float64)
    assert ((mean - target).abs() / se).max() < 5.0
    # columns orthonormal
    assert torch.allclose(U.transpose(1, 2) @ U, torch.eye(d, dtype=torch.float64).expand(N, d, d), atol=1e-12)


def test_haar_basis_entries_have_mean_zero_which_raw_qr_does_not():
    """The sign(diag R) fix makes QR Haar: every entry of U then has mean 0 (SD 1/√n).

    Plain LAPACK QR (what np.linalg.qr returns) is biased: its diagonal entries Q_jj have a mean
    of about −0.28 for n = 8, i.e. ~100 SE off. We check both, so this test would catch a missing fix.
    """
    n, k, N = 8, 3, 20000
    U = _t(haar_basis(N, n, k, _rng(2)))
    se = 1.0 / math.sqrt(n * N)  # entries of a uniform unit vector in R^n have variance 1/n
    assert U.mean(0).abs().max() < 5 * se
    # the same Gaussian draws without the sign fix are visibly biased
    G = _raw_gaussian(2, (N, n, k))
    Q, _ = torch.linalg.qr(G)
    assert Q.mean(0).abs().max() > 20 * se
    # and haar_basis is exactly QR with column signs flipped: same |entries|
    assert torch.allclose(U.abs(), Q.abs(), atol=1e-12)
    # the fourth moment of one column matches a uniform unit vector: E[u_i^4] = 3/(n(n+2))
    m4 = (U[:, :, 0] ** 4).mean()
    sd4 = (U[:, :, 0] ** 4).std() / math.sqrt(N * n)  # conservative (entries of one column are weakly dependent)
    assert abs(m4 - 3 / (n * (n + 2))) < 10 * sd4


def test_haar_basis_rejects_bad_k():
    g = _rng(0)
    with pytest.raises(ValueError, match="k=0"):
        haar_basis(2, 4, 0, g)
    with pytest.raises(ValueError, match="k=5"):
        haar_basis(2, 4, 5, g)


# ----------------------------------------------------------------------------- sphere (case 2)


def test_sphere_tokens_have_norm_R_and_span_exactly_d_plus_1_dims():
    n, L, d, R = 10, 40, 3, 1.5
    b = sample_prompts("sphere", 8, 3, n=n, L=L, d=d, R=R, sigma_z2=0.1)
    V = _t(b.task["basis"])
    assert V.shape == (8, n, d + 1)
    X = _t(b.X)
    assert torch.allclose(X.norm(dim=-1), torch.full((8, L), R, dtype=torch.float64), rtol=1e-6)
    assert torch.allclose(_t(b.x_target).norm(dim=-1), torch.full((8,), R, dtype=torch.float64), rtol=1e-6)
    sv = torch.linalg.svdvals(X)
    assert (sv[:, d] / sv[:, 0] > 1e-2).all() and (sv[:, d + 1] / sv[:, 0] < 1e-5).all()
    P = _proj(V)
    assert torch.allclose(X @ P, X, atol=1e-5)
    assert torch.allclose(
        V.transpose(1, 2) @ V, torch.eye(d + 1, dtype=torch.float64).expand(8, d + 1, d + 1), atol=1e-12
    )


def test_sphere_tokens_are_uniform_in_the_subspace():
    """Coordinates c = Vᵀx of uniform points on S^d(R) have E[c] = 0 and E[c cᵀ] = R²/(d+1) I."""
    n, L, d, R = 6, 20000, 2, 2.0
    b = sample_prompts("sphere", 1, 4, n=n, L=L, d=d, R=R, sigma_z2=0.1)
    c = _t(b.X[0]) @ _t(b.task["basis"][0])  # (L, d+1)
    se_mean = R / math.sqrt((d + 1) * L)
    assert c.mean(0).abs().max() < 5 * se_mean
    second = c.T @ c / L
    # Var(c_i²) <= E c_i⁴ <= R⁴; off-diagonal Var(c_i c_j) <= R⁴ as well: SE <= R²/sqrt(L)
    assert (second - R**2 / (d + 1) * torch.eye(d + 1, dtype=torch.float64)).abs().max() < 5 * R**2 / math.sqrt(L)


# ----------------------------------------------------------------------------- gmm (case 3)


def test_gmm_tokens_sit_near_one_of_p_centres_of_norm_R():
    """With σ0² = 0.001 every token's nearest centre is its own (noise norm ~0.13 vs separation ~1.4).

    dist² to the nearest centre is then σ0² χ²_n: mean nσ0², SE σ0² sqrt(2n/N); tolerance 5 SE.
    """
    n, L, p, R, s0 = 16, 200, 4, 1.0, 0.001
    b = sample_prompts("gmm", 50, 5, n=n, L=L, p=p, R=R, sigma0_2=s0, sigma_z2=0.1)
    mu = _t(b.task["centres"])
    assert mu.shape == (50, p, n)
    assert torch.allclose(mu.norm(dim=-1), torch.full((50, p), R, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(_t(b.task["weights"]), torch.full((50, p), 1 / p, dtype=torch.float64))
    tokens = torch.cat([_t(b.X), _t(b.x_target).unsqueeze(1)], dim=1)  # (B, L+1, n)
    d2 = torch.cdist(tokens, mu) ** 2  # (B, L+1, p)
    nearest = d2.min(-1).values
    N = nearest.numel()
    assert abs(nearest.mean().item() - n * s0) < 5 * s0 * math.sqrt(2 * n / N)
    # nobody is far from every centre (χ²_16 > 60 has probability ~1e-7)
    assert nearest.max().item() < 60 * s0
    # uniform weights: each centre gets ~1/p of the tokens (binomial SE)
    counts = torch.nn.functional.one_hot(d2.argmin(-1), p).double().sum((0, 1))
    assert ((counts / N - 1 / p).abs() < 5 * math.sqrt((1 / p) * (1 - 1 / p) / N)).all()


def test_gmm_custom_weights_are_followed():
    n, L, p, s0 = 16, 500, 3, 0.001
    w = [0.7, 0.2, 0.1]
    b = sample_prompts("gmm", 40, 6, n=n, L=L, p=p, R=1.0, sigma0_2=s0, sigma_z2=0.1, weights=w)
    assert torch.allclose(_t(b.task["weights"][0]), torch.tensor(w, dtype=torch.float64))
    tokens = torch.cat([_t(b.X), _t(b.x_target).unsqueeze(1)], dim=1)
    lab = torch.cdist(tokens, _t(b.task["centres"])).argmin(-1)
    freq = torch.nn.functional.one_hot(lab, p).double().mean((0, 1))
    N = lab.numel()
    for a in range(p):
        assert abs(freq[a].item() - w[a]) < 5 * math.sqrt(w[a] * (1 - w[a]) / N), (a, freq)
    with pytest.raises(ValueError, match="weights"):
        sample_prompts("gmm", 2, 0, n=4, L=3, p=3, R=1.0, sigma0_2=0.1, sigma_z2=0.1, weights=[0.5, 0.6, -0.1])
    with pytest.raises(ValueError, match="weights"):
        sample_prompts("gmm", 2, 0, n=4, L=3, p=3, R=1.0, sigma0_2=0.1, sigma_z2=0.1, weights=[0.5, 0.5])


# ----------------------------------------------------------------------------- query noise, seeds


@pytest.mark.parametrize("case", CASES)
def test_query_noise_is_isotropic_gaussian_with_variance_sigma_z2(case):
    """Z = x̃ − x has mean 0 and variance σZ² per component: SE of the variance σZ² sqrt(2/N)."""
    params = dict(PARAMS[case])
    params["sigma_z2"] = 0.3
    n = 8
    b = sample_prompts(case, 4000, 11, n=n, L=2, **params)
    Z = (_t(b.x_query) - _t(b.x_target)).reshape(-1)
    N = Z.numel()
    sz2 = 0.3
    assert abs(Z.mean().item()) < 5 * math.sqrt(sz2 / N)
    assert abs(Z.var().item() - sz2) < 5 * sz2 * math.sqrt(2 / N)
    # isotropic: per-component variances all near σZ² (n components of 4000 samples each)
    per = (_t(b.x_query) - _t(b.x_target)).var(0)
    assert ((per - sz2).abs() < 5 * sz2 * math.sqrt(2 / 4000)).all()
    # Z is independent of the clean query: empirical correlation ~ N(0, 1/N)
    corr = torch.corrcoef(torch.stack([Z, _t(b.x_target).reshape(-1)]))[0, 1]
    assert abs(corr.item()) < 5 / math.sqrt(N)


@pytest.mark.parametrize("case", CASES)
def test_same_seed_same_prompts_different_seed_different(case):
    kw = dict(n=6, L=5, **PARAMS[case])
    a = sample_prompts(case, 7, 123, **kw)
    b = sample_prompts(case, 7, 123, **kw)
    c = sample_prompts(case, 7, 124, **kw)
    for name in ("X", "x_query", "x_target"):
        assert np.array_equal(np.asarray(getattr(a, name)), np.asarray(getattr(b, name)))
        assert not np.allclose(np.asarray(getattr(a, name)), np.asarray(getattr(c, name)))
    for key in a.task:
        assert np.array_equal(np.asarray(a.task[key]), np.asarray(b.task[key]))
    assert str(a.X.dtype).endswith("float32") and a.params["case"] == case and a.params["L"] == 5


@pytest.mark.parametrize("case", CASES)
def test_chunked_sampling_draws_the_same_numbers_as_one_draw(case, monkeypatch):
    """The samplers draw and transform SAMPLE_CHUNK prompts at a time; the prompts must not depend on it
    (every table of the paper is built from these numbers)."""
    from icdenoise import tasks

    kw = dict(n=6, L=9, **PARAMS[case])
    monkeypatch.setattr(tasks, "SAMPLE_CHUNK", 10**9)  # one chunk: the whole (B, L+1, n) array at once
    whole = sample_prompts(case, 23, 5, **kw)
    monkeypatch.setattr(tasks, "SAMPLE_CHUNK", 4)  # 6 chunks, the last one short
    chunked = sample_prompts(case, 23, 5, **kw)
    for name in ("X", "x_query", "x_target"):
        assert np.array_equal(getattr(whole, name), getattr(chunked, name)), name
    for key in whole.task:
        assert np.array_equal(whole.task[key], chunked.task[key]), key
    assert whole.X.flags.c_contiguous and whole.X.dtype == np.float32


def test_prompt_batch_subset_and_paper_layout():
    b = sample_prompts("subspace", 10, 0, n=5, L=4, **SUB)
    assert b.num_prompts == 10
    XT = np.asarray(b.X_T)
    assert XT.shape == (10, 5, 4) and XT.flags["C_CONTIGUOUS"]
    assert np.array_equal(XT, np.asarray(b.X).transpose(0, 2, 1))
    s = b.subset(slice(2, 5))
    assert s.num_prompts == 3
    assert np.array_equal(np.asarray(s.X), np.asarray(b.X)[2:5])
    assert np.array_equal(np.asarray(s.x_query), np.asarray(b.x_query)[2:5])
    assert np.array_equal(np.asarray(s.task["basis"]), np.asarray(b.task["basis"])[2:5])
    idx = np.array([9, 0])
    t = b.subset(idx)
    assert np.array_equal(np.asarray(t.x_target), np.asarray(b.x_target)[idx]) and t.params == b.params


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize("d", [6, 7, 0, -1])
@pytest.mark.parametrize("case", ["subspace", "sphere"])
def test_rejects_bad_d(case, d):
    params = dict(PARAMS[case], d=d)
    with pytest.raises(ValueError, match=rf"d must satisfy 1 <= d < n=6.*d={d}"):
        sample_prompts(case, 2, 0, n=6, L=3, **params)


@pytest.mark.parametrize(
    "case,key",
    [
        ("subspace", "sigma0_2"),
        ("subspace", "sigma_z2"),
        ("sphere", "R"),
        ("sphere", "sigma_z2"),
        ("gmm", "R"),
        ("gmm", "sigma0_2"),
        ("gmm", "sigma_z2"),
    ],
)
@pytest.mark.parametrize("value", [0.0, -1.0, float("nan")])
def test_rejects_non_positive_scales(case, key, value):
    params = dict(PARAMS[case], **{key: value})
    with pytest.raises(ValueError, match=rf"{key} must be > 0"):
        sample_prompts(case, 2, 0, n=6, L=3, **params)


def test_rejects_unknown_case_and_bad_sizes():
    with pytest.raises(ValueError, match=r"unknown case 'torus'"):
        sample_prompts("torus", 2, 0, n=6, L=3, d=2)
    with pytest.raises(ValueError, match=r"n must be >= 2"):
        sample_prompts("subspace", 2, 0, n=1, L=3, **SUB)
    with pytest.raises(ValueError, match=r"L \(number of context tokens\) must be >= 1"):
        sample_prompts("subspace", 2, 0, n=6, L=0, **SUB)
    with pytest.raises(ValueError, match=r"num_prompts must be >= 1"):
        sample_prompts("sphere", 0, 0, n=6, L=3, **SPH)
    with pytest.raises(ValueError, match=r"p \(number of mixture centres\) must be >= 1"):
        sample_prompts("gmm", 2, 0, n=6, L=3, **dict(GMM, p=0))


@pytest.mark.parametrize("case", CASES)
def test_missing_parameter_is_named(case):
    for key in CASE_PARAMS[case]:
        params = {k: v for k, v in PARAMS[case].items() if k != key}
        with pytest.raises(ValueError, match=rf"needs parameters \['{key}'\]"):
            sample_prompts(case, 2, 0, n=6, L=3, **params)


@pytest.mark.parametrize("case", CASES)
def test_extra_parameter_is_named(case):
    with pytest.raises(ValueError, match=r"does not take parameters \['bogus'\]"):
        sample_prompts(case, 2, 0, n=6, L=3, bogus=1, **PARAMS[case])


@pytest.mark.parametrize("case", ["subspace", "sphere"])
def test_weights_is_rejected_with_value_error_outside_gmm(case):
    with pytest.raises(ValueError, match="weights"):
        sample_prompts(case, 2, 0, n=6, L=3, weights=[1.0], **PARAMS[case])


# ----------------------------------------------------------------------------- derive_seed


def test_derive_seed_is_a_stable_contract():
    # hard-coded: these values must never change, or every stored dataset/run changes with them
    assert derive_seed(0, "a") == 5064706380645711702
    assert derive_seed(0, "b") == 4352750922532792735
    assert derive_seed(1, "a") == 593999123752666430
    assert derive_seed(0, "a") == derive_seed("0", "a")  # parts are encoded as text
    assert derive_seed("a|b") != derive_seed("a", "b")  # ... in a JSON list, so joins cannot collide


def test_derive_seed_differs_across_parts_and_fits_63_bits():
    seeds = {derive_seed(s, case, split) for s in range(6) for case in CASES for split in ("train", "test")}
    assert len(seeds) == 6 * 3 * 2
    assert all(0 <= s < 2**63 for s in seeds)
    assert derive_seed(0, "ab") != derive_seed(0, "a", "b")
    # usable as a torch seed
    torch.Generator().manual_seed(max(seeds))


def test_prompt_batch_is_the_dataclass_returned():
    assert isinstance(sample_prompts("gmm", 1, 0, n=3, L=1, **GMM), PromptBatch)
