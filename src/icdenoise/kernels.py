"""Which kernel trains a sub-ensemble, and lazy access to the fused numba kernels.

The fused CPU kernels (softmax and linear attention: the models whose ``fused`` attribute names them,
icdenoise.models) live in :mod:`icdenoise.kernels_numba`; importing that module imports numba and its first
call in a process loads the compiled code from numba's disk cache (the very first call after an install or a
source change compiles them, which is slow: the README's Performance section has the figures). This module is
light: it decides the kernel and imports numba only when a fused kernel is used, so CUDA jobs and jobs that
train nothing never pay for it. Attributes of the numba module (the names in ``_FORWARDED``) are forwarded
lazily.
"""

from __future__ import annotations

import importlib
import importlib.util
import os

#: Environment variable that forces a kernel where the caller asks for "auto": "torch", "fused" or "auto".
KERNEL_ENV = "ICDENOISE_KERNEL"

_FORWARDED = {
    "softmax_grads",
    "softmax_mse",
    "linear_grads",
    "linear_mse",
    "softmax_epoch",
    "linear_epoch",
    "scale_add_centres",
    "sphere_tokens",
    "adam_step",
    "warm_up",
    "cache_dir",
    "clear_cache",
    "NUMBA_VERSION",
}


def available() -> bool:
    """True when numba is installed (the fused kernels can run); does not import it."""
    return importlib.util.find_spec("numba") is not None


def kernel_choice(requested: str | None, model, device_type: str) -> str:
    """ "fused" or "torch" for one sub-ensemble of ``model`` (a registered name or model, icdenoise.models).

    ``requested``: "auto"/None (fused on the CPU when numba is there, torch otherwise), "torch" or
    "fused". ``$ICDENOISE_KERNEL`` (torch/fused/auto) replaces "auto"; an explicit argument wins over
    it. CUDA always uses torch (one batched launch sequence for all members is what is fast there),
    and so does a model without fused kernels (its ``fused`` is None), whatever was asked.
    On the CPU both paper models fuse: softmax streams each context once per pass while it is in cache;
    linear works on the n x n moments XᵀX/L, where torch's ~20 small ops per step, each with
    its fixed dispatch cost, cost several times the arithmetic.
    """
    req = (requested or "auto").strip().lower()
    if req == "auto":
        req = os.environ.get(KERNEL_ENV, "auto").strip().lower() or "auto"
    if req not in ("auto", "torch", "fused"):
        raise ValueError(f"kernel must be 'auto', 'torch' or 'fused' (also via ${KERNEL_ENV}), got {req!r}")
    from . import models

    if device_type != "cpu" or req == "torch" or models.get(model).fused is None:
        return "torch"
    if not available():
        if req == "fused":
            raise RuntimeError("kernel 'fused' needs numba, which is not installed")
        return "torch"
    return "fused"


def __getattr__(name: str):
    if name in _FORWARDED:  # first access imports numba; later ones find the name in this module
        value = getattr(importlib.import_module(".kernels_numba", __package__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
