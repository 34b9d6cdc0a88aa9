"""Noisy-context prompts: Y = X + Z with σ_c² (default σ_Z²), the clean prompt and its query unchanged."""

import numpy as np
import pytest

from icdenoise.noisy_tasks import sample_noisy_prompts
from icdenoise.tasks import sample_prompts

CASES = {
    "subspace": dict(d=3, sigma0_2=2.0, sigma_z2=1.0),
    "sphere": dict(d=3, R=1.0, sigma_z2=0.1),
    "gmm": dict(p=3, R=1.0, sigma0_2=0.02, sigma_z2=0.1),
}


@pytest.mark.parametrize("case", CASES)
def test_noisy_context_is_the_clean_prompt_plus_noise_of_variance_sigma_c2(case):
    kw = CASES[case]
    clean = sample_prompts(case, 200, 7, 8, 50, **kw)
    noisy = sample_noisy_prompts(case, 200, 7, 8, 50, **kw)
    np.testing.assert_array_equal(noisy.task["X_clean"], clean.X)  # the clean samplers' numbers
    np.testing.assert_array_equal(noisy.x_query, clean.x_query)
    np.testing.assert_array_equal(noisy.x_target, clean.x_target)
    Z = noisy.X.astype(np.float64) - clean.X
    assert noisy.params["sigma_c2"] == kw["sigma_z2"]
    assert abs(Z.var() / kw["sigma_z2"] - 1) < 0.02  # 80,000 draws: SE of the variance ratio ~0.005
    assert abs(Z.mean()) < 0.01 * kw["sigma_z2"] ** 0.5 * 5
    other = sample_noisy_prompts(case, 200, 7, 8, 50, sigma_c2=4 * kw["sigma_z2"], **kw)
    assert abs((other.X - clean.X).var() / (4 * kw["sigma_z2"]) - 1) < 0.02


def test_noisy_prompts_are_reproducible_and_sigma_c2_zero_is_clean():
    kw = CASES["gmm"]
    a, b = (sample_noisy_prompts("gmm", 10, 3, 8, 20, **kw) for _ in range(2))
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, sample_noisy_prompts("gmm", 10, 4, 8, 20, **kw).X)
    np.testing.assert_array_equal(sample_noisy_prompts("gmm", 10, 3, 8, 20, sigma_c2=0.0, **kw).X, a.task["X_clean"])
    with pytest.raises(ValueError, match="sigma_c2"):
        sample_noisy_prompts("gmm", 10, 3, 8, 20, sigma_c2=-1.0, **kw)
