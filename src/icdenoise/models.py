"""One-layer attention denoisers (paper §3.1, Eq. 11-12): the registry of models, and their functions.

Row convention: context X is (B, L, n), query x̃ is (B, n). With the paper's column matrices
(X of shape n x L) the two models are

* linear attention (Eq. 11):  x̂ = (1/L) W_PV X Xᵀ W_KQ x̃
* softmax attention (Eq. 12): x̂ = W_PV X softmax(Xᵀ W_KQ x̃)   (softmax over the L context
  tokens, no 1/√n temperature, no residual term).

Parameters are two n x n matrices ``W_KQ`` and ``W_PV``, initialised U[-1/√n, 1/√n].
The functions here take the weights explicitly, so the same code evaluates a trained model or a
scaled identity (α-β grids have their own vectorised code in ``landscape``).

Registry. Each model is a class in :mod:`icdenoise.denoisers` (interface: ``denoisers.base.Model``: its
parameters, torch forward pass, optionally hand-written gradients and fused CPU kernels, what it keeps of a
context, its weight summary). :data:`REGISTRY` names them; adding a model is its module plus one line here.
A model may take options (the depth models: ``layers``, ``tied``, ``residual``, ``lam_init``; the noisy-context
model ``context_depth_softmax``: ``layers``, ``skip``, ...): one registered name is one family of models, its
options pick the member (:func:`get` ``(name, options)``; a run carries them as
``settings["model_options"]``, ``TrainConfig.model_options``), so the registry stays a short list of names.
Every list of model names follows: :data:`MODELS`, ``api.MODEL_NAMES``, the CLI's ``--model``,
``TrainConfig``, and the config schema's ``models`` enum (a test asserts it equals :data:`MODELS`).

Importing this module is cheap (no torch): a model's module is imported by :func:`get`, the functions
below (``linear_attention``, ``init_weights``, ...) on first access.
"""

from __future__ import annotations

import importlib

#: model name -> "module:Class" in icdenoise.denoisers (imported on first use), or a Model instance
REGISTRY: dict[str, object] = {
    "linear": "linear:LinearAttention",  # Eq. 11
    "softmax": "softmax:SoftmaxAttention",  # Eq. 12
    "linear_residual": "linear_residual:ResidualLinearAttention",  # Eq. 11 + λ x̃ (beyond the paper)
    "depth_linear": "depth:DepthLinear",  # K layers of Eq. 11 on the query stream (depth study; options)
    "depth_softmax": "depth:DepthSoftmax",  # K layers of Eq. 12 on the query stream (depth study; options)
    "context_depth_softmax": "context_depth:ContextDepthSoftmax",  # K layers of Eq. 12 on noisy context (options)
}
#: The registered models (the config schema's ``models`` enum, the CLI's choices, api.MODEL_NAMES).
MODELS = tuple(REGISTRY)
#: The paper's two models (§3.1); the workflow's config trains these.
PAPER_MODELS = ("linear", "softmax")

_LOADED: dict[tuple, object] = {}
#: Public function -> the denoisers module that defines it (loaded on first access).
_FUNCTIONS = {
    "context_moment": "linear",
    "linear_attention": "linear",
    "linear_attention_from_moment": "linear",
    "softmax_attention": "softmax",
    "softmax_attention_weights": "softmax",
    "init_weights": "base",
    "scaled_identity_weights": "base",
    "weight_summary": "base",
}


def get(model, options=None):
    """The registered model ``model`` (a name; a Model instance passes through) with its ``options`` (a mapping
    of the model's settings, passed to its class; none for the paper's models), one instance per process each."""
    if not isinstance(model, str):
        return model
    spec = REGISTRY.get(model)
    if spec is None:
        raise ValueError(f"unknown model {model!r}; allowed: {', '.join(REGISTRY)}")
    if not isinstance(spec, str):
        return spec
    options = dict(options or {})
    key = (spec, repr(sorted(options.items())))
    if key not in _LOADED:
        module, cls = spec.split(":")
        _LOADED[key] = getattr(importlib.import_module(f".denoisers.{module}", __package__), cls)(**options)
    return _LOADED[key]


def attention(model: str, X, x_query, W_KQ=None, W_PV=None, X_T=None, **params):
    """x̂ (B, n) of a registered model (Eq. 11 "linear", Eq. 12 "softmax", ...) for contexts X (B, L, n), queries
    x̃ (B, n) and its parameters by name (W_KQ, W_PV, and any others); ``X_T`` (B, n, L) only speeds up softmax."""
    given = {"W_KQ": W_KQ, "W_PV": W_PV, **params}
    return get(model).predict(X, x_query, {k: v for k, v in given.items() if v is not None}, X_T=X_T)


def __getattr__(name: str):
    module = _FUNCTIONS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".denoisers.{module}", __package__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_FUNCTIONS))
