"""Linear attention with a learned scalar residual (beyond the paper): x̂ = λ x̃ + (1/L) W_PV X Xᵀ W_KQ x̃
(Eq. 11 plus λ x̃, λ initialised 0). No hand-written gradient and no fused kernel: it trains by autograd on the
torch path, the proof that the trainer takes any registered model."""

from __future__ import annotations

import torch

from .base import KQ_PV, KQPVModel, Param, scalar, zeros
from .linear import context_moment, moment_h


class ResidualLinearAttention(KQPVModel):
    """Eq. 11 + λ x̃ on the context moments S = XᵀX/L; ``frozen=("lam",)`` holds λ at 0 (then it is Eq. 11)."""

    name = "linear_residual"
    params = (*KQ_PV, Param("lam", scalar, zeros))  # W_KQ, W_PV drawn as the paper's models draw them
    context = "moment"

    def __init__(self, frozen: tuple[str, ...] = ()):
        self.frozen = tuple(frozen)

    def context_of(self, X):
        return context_moment(X)

    def forward(self, ctx, q, p):
        h = moment_h(ctx, q, p["W_KQ"])
        return torch.bmm(h, p["W_PV"].transpose(1, 2)) + p["lam"].reshape(-1, 1, 1) * q

    def summary(self, params):
        return {**super().summary(params), "lam": float(params["lam"])}
