"""Noisy-context prompts (beyond the paper: the 2026 follow-up's all-token corruption, experiments.md).

Every context token is corrupted too: Y_t = X_t + Z_t, Z_t ~ N(0, σ_c² I_n), with σ_c² = σ_Z² by default; the
query x̃ = X_{L+1} + Z is the clean samplers' own. The clean prompt is drawn by :func:`tasks.sample_prompts`
from ``seed`` (the same numbers as a clean prompt of that seed), the context noise from a second generator
seeded with ``derive_seed(seed, "context_noise")``, so the clean samplers' streams are untouched.
"""

from __future__ import annotations

import numpy as np

from .tasks import PromptBatch, derive_seed, sample_prompts

#: The purpose part of the context noise's seed (see the module docstring).
CONTEXT_NOISE = "context_noise"


def sample_noisy_prompts(
    case: str, num_prompts: int, seed: int, n: int, L: int, sigma_c2: float | None = None, **case_params
) -> PromptBatch:
    """Prompts whose context is Y = X + Z (B, L, n) float32, Z ~ N(0, σ_c² I); the clean X is task["X_clean"].

    ``sigma_c2`` None means σ_c² = σ_Z² (``case_params["sigma_z2"]``); 0 gives the clean prompt back.
    ``params`` gains ``sigma_c2``; the oracle task arrays are those of the clean prompt.
    """
    clean = sample_prompts(case, num_prompts, seed, n, L, **case_params)
    s_c2 = float(case_params["sigma_z2"] if sigma_c2 is None else sigma_c2)
    if not s_c2 >= 0:
        raise ValueError(f"sigma_c2 must be >= 0, got {sigma_c2!r}")
    rng = np.random.default_rng(derive_seed(int(seed), CONTEXT_NOISE))
    Z = rng.standard_normal(clean.X.shape)  # (B, L, n) float64
    Y = (clean.X + s_c2**0.5 * Z).astype(np.float32)
    task = dict(clean.task, X_clean=clean.X)
    return PromptBatch(
        X=Y, x_query=clean.x_query, x_target=clean.x_target, task=task, params=dict(clean.params, sigma_c2=s_c2)
    )
