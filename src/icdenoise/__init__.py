"""icdenoise: in-context denoising with one-layer transformers (Smart, Bietti, Sengupta; ICML 2025).

Modules follow the paper: ``tasks`` (§2.2 samplers), ``bayes`` (§2.3 Props 1-4 and finite-L theory),
``models`` (§3.1 Eq. 11-12), ``train`` (§3 training loop), ``energy`` (§4 Eq. 15-16),
``landscape`` (App. F alpha-beta scans), ``io`` (atomic file and table I/O), ``api`` (one-off runs
with the paper's settings) and ``cli`` (the ``icdenoise`` command line).

The names a notebook needs are importable from the package itself, e.g.::

    import icdenoise as icd
    batch = icd.sample_prompts("sphere", 1000, seed=0)          # paper settings from config/config.yaml
    x_hat = icd.bayes_optimal_sphere(batch.x_query, batch.task["basis"], R=1.0, sigma_z2=0.1)
    icd.mse_per_component(x_hat, batch.x_target).mean()        # ≈ 0.029, MSE per component
    run = icd.train_case("gmm", "softmax", seeds=[0], epochs=20)

They are loaded on first use (module ``__getattr__``), so ``import icdenoise`` stays cheap: numpy,
scipy and torch are imported only by the submodule that needs them.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: Public name -> submodule that defines it (loaded lazily).
_EXPORTS = {
    # settings and prompts (numpy)
    "CASES": "tasks",
    "derive_seed": "tasks",
    "load_config": "api",
    "paper_settings": "api",
    "sample_prompts": "api",
    "SettingsError": "api",
    # oracle denoisers and their MSEs (numpy, scipy)
    "bayes_optimal_subspace": "bayes",
    "bayes_mse_subspace": "bayes",
    "projection_subspace": "bayes",
    "bayes_optimal_sphere": "bayes",
    "projection_sphere": "bayes",
    "bessel_ratio": "bayes",
    "bayes_optimal_gmm": "bayes",
    "bayes_optimal_gmm_sigma0_to_0": "bayes",
    "zero_predictor_mse": "bayes",
    "mse_per_component": "bayes",
    "bayes_mse_monte_carlo": "bayes",
    "linear_attention_gamma_star": "bayes",
    "linear_attention_finite_L_mse": "bayes",
    "oracle_predictions": "api",
    "oracle_mses": "api",
    # models and training (torch)
    "linear_attention": "models",
    "softmax_attention": "models",
    "scaled_identity_weights": "models",
    "AttentionModel": "api",
    "build_model": "api",
    "train_model": "api",
    "train_case": "api",
    "TrainCaseResult": "api",
    "TrainConfig": "train",
    "TrainingDiverged": "train",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'icdenoise' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
