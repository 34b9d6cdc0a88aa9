"""Which kernel trains a sub-ensemble, and lazy access to the fused numba kernels.

The fused CPU kernels for softmax attention live in :mod:`icdenoise.kernels_numba`; importing that
module imports numba (~0.4 s) and its first call in a process loads the compiled code from numba's
disk cache (~0.3-0.7 s; the very first call after an install or a source change compiles, ~6 s).
This module is light: it decides the kernel and imports numba only when a fused kernel is used, so
linear-only and CUDA jobs never pay for it. Attributes of the numba module (``softmax_grads``,
``softmax_mse``, ``scale_add_centres``, ``sphere_tokens``, ``adam_step``, ``warm_up``, ``cache_dir``, ``clear_cache``)
are forwarded lazily.
"""

from __future__ import annotations

import importlib
import importlib.util
import os

#: Environment variable that forces a kernel where the caller asks for "auto": "torch", "fused" or "auto".
KERNEL_ENV = "ICDENOISE_KERNEL"

_FORWARDED = {
    "softmax_grads",
    "softmax_epoch",
    "softmax_mse",
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


def kernel_choice(requested: str | None, model: str, device_type: str) -> str:
    """ "fused" or "torch" for one sub-ensemble.

    ``requested``: "auto"/None (fused for softmax on the CPU when numba is there, torch otherwise),
    "torch" or "fused". ``$ICDENOISE_KERNEL`` (torch/fused/auto) replaces "auto"; an explicit argument
    wins over it. Linear attention and CUDA always use torch (linear reads only the n x n moment XᵀX/L;
    on CUDA one batched launch sequence for all members is what is fast).
    """
    req = (requested or "auto").strip().lower()
    if req == "auto":
        req = os.environ.get(KERNEL_ENV, "auto").strip().lower() or "auto"
    if req not in ("auto", "torch", "fused"):
        raise ValueError(f"kernel must be 'auto', 'torch' or 'fused' (also via ${KERNEL_ENV}), got {req!r}")
    if model != "softmax" or device_type != "cpu" or req == "torch":
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
