"""K-layer attention on the query stream (beyond the paper, the depth study): s₀ = x̃,
s_{k+1} = λ_k s_k + Attn_k(X, s_k), x̂ = s_K, with Attn_k the paper's linear (Eq. 11) or softmax (Eq. 12)
attention with its own W_KQ⁽ᵏ⁾, W_PV⁽ᵏ⁾; the context tokens stay the clean memories. λ = 1 − γ/α is Eq. 16's
form, so a tied model (one (W_KQ, W_PV, λ) for every layer: a looped transformer) is energy descent with a learned
step.

Model options (:func:`icdenoise.models.get` ``(name, options)``; a run carries them as ``settings["model_options"]``):
``layers`` K ≥ 1, ``tied`` (bool), ``residual`` (bool: λ learned; false holds every λ_k at ``lam_init``) and
``lam_init`` (λ's initial value). K = 1 with ``residual: false`` and ``lam_init: 0`` is exactly the paper's model,
with the same initial draw (W_KQ then W_PV, U[−1/√n, 1/√n]). Parameters: W_KQ, W_PV (T, n, n) and lam (T,) with
T = 1 tied, K untied (layer k uses set k, or set 0 when tied); untied draws every W_KQ⁽ᵏ⁾, then every W_PV⁽ᵏ⁾.
The torch path (CUDA, ``ICDENOISE_KERNEL=torch``, and the linear family) differentiates :meth:`forward` by autograd;
on the CPU the softmax family runs the fused kernels of :mod:`icdenoise.kernels_depth` (tested against autograd).
"""

from __future__ import annotations

import torch

from . import base
from .base import LayeredModel, Param, uniform

#: option -> (type, default); :meth:`DepthAttention.__init__` checks them and names a bad one
OPTIONS = {"layers": (int, 1), "tied": (bool, True), "residual": (bool, True), "lam_init": (float, 0.0)}


def check_options(options: dict) -> dict:
    """The model options with defaults filled in; a ValueError names an unknown key or a bad value."""
    return base.check_options(options, OPTIONS, "depth")


class DepthAttention(LayeredModel):
    """K layers of Eq. 11 or Eq. 12 on the query stream with learned scalar residuals λ_k (see the module)."""

    family = ""  # "linear" or "softmax"

    def __init__(self, **options):
        o = check_options(options)
        self.options = o
        self.K, self.tied, self.residual, self.lam_init = o["layers"], o["tied"], o["residual"], o["lam_init"]
        self.T = 1 if self.tied else self.K  # weight sets
        T, lam0 = self.T, self.lam_init
        self.params = (
            Param("W_KQ", lambda n: (T, n, n), uniform),
            Param("W_PV", lambda n: (T, n, n), uniform),
            Param("lam", lambda n: (T,), lambda shape, g: torch.full(shape, lam0, dtype=torch.float64)),
        )
        self.frozen = () if self.residual else ("lam",)

    def layer(self, k: int) -> int:
        """The weight set of layer k."""
        return 0 if self.tied else k

    def attend(self, ctx, s, W_KQ, W_PV):
        """Attn(X, s) (A, B, n) of A members' B states s (A, B, n); W (A, n, n)."""
        raise NotImplementedError

    def forward(self, ctx, q, p):
        s = q  # (A, B, n)
        for k in range(self.K):
            s = self.step(ctx, s, p, k)
        return s

    def step(self, ctx, s, p, k: int):
        """Layer k: s_{k+1} = λ_t s_k + Attn_t(X, s_k) (A, B, n), t the layer's weight set."""
        t = self.layer(k)
        return p["lam"][:, t].reshape(-1, 1, 1) * s + self.attend(ctx, s, p["W_KQ"][:, t], p["W_PV"][:, t])

    def trajectory(self, X, x_query, params) -> torch.Tensor:
        """(K+1, B, n) the states s_0 = x̃, ..., s_K = x̂ of one set of parameters (numpy or torch, by name)."""
        p = {k: torch.as_tensor(params[k]).unsqueeze(0) for k in ("W_KQ", "W_PV", "lam")}
        ctx, s = self.context_of(X), x_query.unsqueeze(0)
        out = [s[0]]
        for k in range(self.K):
            s = self.step(ctx, s, p, k)
            out.append(s[0])
        return torch.stack(out)


class DepthLinear(DepthAttention):
    """Linear attention layers (Eq. 11) on the context moments S = XᵀX/L: s ← λ s + W_PV S W_KQ s."""

    name = "depth_linear"
    family = "linear"
    context = "moment"

    def context_of(self, X):
        from .linear import context_moment

        return context_moment(X)

    def attend(self, ctx, s, W_KQ, W_PV):
        from .linear import moment_h

        return torch.bmm(moment_h(ctx, s, W_KQ), W_PV.transpose(1, 2))


class DepthSoftmax(DepthAttention):
    """Softmax attention layers (Eq. 12) on the (n, L) contexts: s ← λ s + W_PV X softmax(Xᵀ W_KQ s)."""

    name = "depth_softmax"
    family = "softmax"
    context = "XT"
    fused = "depth_softmax"  # icdenoise.kernels_depth: K layers forward and back per prompt while it is in cache

    def fused_kernel(self, step):
        from ..kernels_depth import kernel

        return kernel(step, self.K, self.T, self.residual)

    def context_of(self, X):
        return X.transpose(1, 2).contiguous()

    def attend(self, ctx, s, W_KQ, W_PV):
        A, B, n = s.shape
        k = torch.bmm(s, W_KQ.transpose(1, 2))  # (A, B, n)
        a = torch.softmax(torch.bmm(k.reshape(A * B, 1, n), ctx), dim=-1)  # (A·B, 1, L)
        v = torch.bmm(ctx, a.transpose(1, 2)).reshape(A, B, n)
        return torch.bmm(v, W_PV.transpose(1, 2))
