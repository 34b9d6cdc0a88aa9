"""K attention-only layers on noisy-context prompts (beyond the paper: the 2026 follow-up's trained two-stage network).

Softmax attention of Eq. 12's form in every layer, keys and values the context tokens only (the query is never a
key). Columns Y (n x L) are the noisy context tokens, s the query stream. Layer k has W_KQ⁽ᵏ⁾, W_PV⁽ᵏ⁾ (n x n) and a
scalar residual λ_k:

- layers 1..K−1 refine the context (self-attention, every token attends to every context token):
  Y ← λ_k Y + W_PV⁽ᵏ⁾ Y softmax(Yᵀ W_KQ⁽ᵏ⁾ Y). With W_PV = ηI, λ = 1 − η, W_KQ = I/h this is the particle step
  y ← y + η (NW_h(y) − y) of Stage 1, except that the dot-product kernel exp(⟨y, y_t⟩/h) is the Gaussian kernel
  times exp(‖y_t‖²/2h) (the norm term the dot product lacks; the two agree where the token norms are equal);
- layer K reads out x̂ = λ_K s + W_PV⁽ᴷ⁾ Y softmax(Yᵀ W_KQ⁽ᴷ⁾ s) with the refined Y and
  ``skip: true`` (the long-range skip, Stage 2): s = the original noisy query x̃;
  ``skip: false``: s passes through layers 1..K−1 like any other token, s ← λ_k s + W_PV⁽ᵏ⁾ Y softmax(Yᵀ W_KQ⁽ᵏ⁾ s),
  attending to that layer's input tokens with that layer's weights.

Options (:func:`icdenoise.models.get` ``(name, options)``; a run carries them as ``settings["model_options"]``):
``layers`` K ≥ 1, ``skip`` (bool), ``residual`` (bool: λ learned; false holds every λ at its initial value),
``lam_init`` (λ_1..λ_{K−1}, default 1: the identity residual stream) and ``lam_out_init`` (λ_K, default 0). K = 1
(either skip) with λ_K held at 0 is exactly the paper's softmax model (Eq. 12) on the noisy context, with the same
initial draw. Parameters: W_KQ, W_PV (K, n, n) (every W_KQ⁽ᵏ⁾ drawn, then every W_PV⁽ᵏ⁾, U[−1/√n, 1/√n]) and lam (K,).
Torch forward only: the trainer differentiates it by autograd.
"""

from __future__ import annotations

import torch

from . import base
from .base import LayeredModel, Param, uniform

#: option -> (type, default); :func:`check_options` names a bad one
OPTIONS = {
    "layers": (int, 1),
    "skip": (bool, True),
    "residual": (bool, True),
    "lam_init": (float, 1.0),
    "lam_out_init": (float, 0.0),
}


def check_options(options: dict) -> dict:
    """The model options with defaults filled in; a ValueError names an unknown key or a bad value."""
    return base.check_options(options, OPTIONS, "context_depth")


def attend(Yq: torch.Tensor, Y: torch.Tensor, W_KQ: torch.Tensor, W_PV: torch.Tensor) -> torch.Tensor:
    """W_PV Y softmax(Yᵀ W_KQ q) for every query row q of Yq (A, B, M, n) over the keys Y (A, B, L, n): (A, B, M, n).

    Members' weights W (A, n, n) act on all their B·M rows in one product; the attention is per prompt."""
    A, B, M, n = Yq.shape
    Yp = Y.reshape(A * B, Y.shape[2], n)  # (A·B, L, n)
    k = torch.bmm(Yq.reshape(A, B * M, n), W_KQ.transpose(1, 2)).reshape(A * B, M, n)  # W_KQ q per query
    a = torch.softmax(torch.bmm(k, Yp.transpose(1, 2)), dim=-1)  # (A·B, M, L): Eq. 12's weights over the context
    v = torch.bmm(a, Yp).reshape(A, B * M, n)  # (A, B·M, n)
    return torch.bmm(v, W_PV.transpose(1, 2)).reshape(A, B, M, n)


class ContextDepthSoftmax(LayeredModel):
    """K softmax layers (Eq. 12) that refine the noisy context, then a readout from x̃ or the carried query."""

    name = "context_depth_softmax"
    context = "X"  # the tokens as (L, n) per prompt
    first_set = 1  # summary keys lam_1, alpha_1, ... for layer 1

    def __init__(self, **options):
        o = check_options(options)
        self.options = o
        self.K, self.skip, self.residual = o["layers"], o["skip"], o["residual"]
        K = self.K
        lam0 = torch.full((K,), o["lam_init"], dtype=torch.float64)
        lam0[-1] = o["lam_out_init"]
        self.params = (
            Param("W_KQ", lambda n: (K, n, n), uniform),
            Param("W_PV", lambda n: (K, n, n), uniform),
            Param("lam", lambda n: (K,), lambda shape, g: lam0.clone()),
        )
        self.frozen = () if self.residual else ("lam",)

    def forward(self, ctx, q, p):
        A, B, n = q.shape
        Y = ctx.reshape(A, B, ctx.shape[-2], n)  # (A, B, L, n) member-major
        s = q.unsqueeze(2)  # (A, B, 1, n)
        for k in range(self.K - 1):
            lam = p["lam"][:, k].reshape(A, 1, 1, 1)
            if self.skip:
                Y = lam * Y + attend(Y, Y, p["W_KQ"][:, k], p["W_PV"][:, k])  # (A, B, L, n)
            else:  # the query is one more attending row (never a key): tokens and query updated together
                T = torch.cat((Y, s), 2)  # (A, B, L+1, n)
                T = lam * T + attend(T, Y, p["W_KQ"][:, k], p["W_PV"][:, k])
                Y, s = T[:, :, :-1], T[:, :, -1:]
        lam = p["lam"][:, -1].reshape(A, 1, 1, 1)
        return (lam * s + attend(s, Y, p["W_KQ"][:, -1], p["W_PV"][:, -1])).squeeze(2)  # (A, B, n)
