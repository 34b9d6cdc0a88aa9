"""One sub-ensemble's per-step computations (§3 training, Eq. 1 loss): its splits in the layout its model asks for
(:class:`_Split`) and the gradient, epoch and evaluation calls on the model's fused CPU kernels or its torch
methods (:class:`_Kernel`). Used by :mod:`icdenoise.train`, which re-exports these names."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from . import models
from .tasks import PromptBatch

if TYPE_CHECKING:
    from .train import Adam


def _np(a, dtype=None) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.asarray(a) if dtype is None else np.asarray(a, dtype=dtype)


# ----------------------------------------------------------------------------- data of a sub-ensemble


class _Split:
    """One split (train or test) of every member of a sub-ensemble, member-major, in the layout its model asks for.

    ``ctx`` (R·P, ...) torch: what the model keeps of each context (its ``context_of``, e.g. linear attention's
    S = XᵀX/L, (n, n)); a model whose ``context`` is "XT" keeps the tokens as (n, L), built in numpy (``ctx_np``
    (R, P, n, L), the fused kernels' layout, which an online float32 stream is drawn into in place). ``ctx_np``:
    the (R, P, ...) numpy view the fused kernels read. ``q``, ``t`` (R, P, n).
    """

    def __init__(
        self,
        batches: list[PromptBatch],
        model,
        device: torch.device,
        dtype: np.dtype,
        fused: bool,
        batch_rows: int = 0,
        XT: np.ndarray | None = None,
    ):
        R = len(batches)
        P, L, n = batches[0].X.shape
        self.R, self.P, self.n, self.L = R, P, n, L
        q = np.empty((R, P, n), dtype)
        t = np.empty((R, P, n), dtype)
        for r, b in enumerate(batches):
            q[r], t[r] = _np(b.x_query), _np(b.x_target)
        self.q_np, self.t_np = q, t
        self.q = torch.from_numpy(q).to(device)
        self.t = torch.from_numpy(t).to(device)
        self.model = models.get(model)
        self._buf = None
        if self.model.context == "XT":
            if XT is None:
                XT = np.empty((R, P, n, L), dtype)
            for r, b in enumerate(batches):
                if not np.may_share_memory(XT[r], _np(b.X)):  # drawn into its slot already: no copy
                    XT[r] = _np(b.X).transpose(0, 2, 1)
            self.ctx_np = XT
            if not fused:
                self.ctx = torch.from_numpy(XT).to(device).reshape(R * P, n, L)
                self._buf = torch.empty(batch_rows, n, L, dtype=self.q.dtype, device=device)
        else:
            C = None
            for r, b in enumerate(batches):
                c = self.model.context_of(torch.as_tensor(_np(b.X, dtype)).to(device))  # (P, ...)
                if C is None:
                    C = torch.empty(R, *c.shape, dtype=self.q.dtype, device=device)
                C[r] = c
            self.ctx = C.reshape(R * P, *C.shape[2:])
            if fused:  # the fused kernel's (R, P, ...) numpy view of the same memory
                self.ctx_np = C.numpy()

    def flat_index(self, idx: torch.Tensor) -> torch.Tensor:
        """(A, B) per-member prompt indices -> (A·B,) rows of the member-major flat tensors."""
        A = idx.shape[0]
        return (idx + torch.arange(A, device=idx.device).unsqueeze(1) * self.P).reshape(-1)

    def rows(self, flat: torch.Tensor) -> torch.Tensor:
        """The contexts of the rows ``flat`` (into the batch buffer where there is one: no allocation per step)."""
        if self._buf is not None and self._buf.shape[0] >= flat.shape[0]:
            return torch.index_select(self.ctx, 0, flat, out=self._buf[: flat.shape[0]])
        return torch.index_select(self.ctx, 0, flat)


# ----------------------------------------------------------------------------- the kernel interface


class _Kernel:
    """grads(split, idx (A, B), W, G), epoch(split, idx (A, P), W, G, opt, B) and mse(split, W, A) -> (A, P)
    float64 numpy, for one sub-ensemble: the model's fused CPU kernels ("fused") or its torch methods ("torch").
    W, G: (R, D) weights and gradients."""

    def __init__(self, model, kind: str, eval_chunk: int):
        self.model, self.kind, self.eval_chunk = models.get(model), kind, eval_chunk

    def _fused(self, step: str):
        """The model's fused kernel for ``step`` ("grads", "epoch" or "mse"): e.g. ``kernels.linear_epoch``."""
        return self.model.fused_kernel(step)

    def grads(self, d: _Split, idx: torch.Tensor, W: torch.Tensor, G: torch.Tensor):
        """Writes the gradients into G; returns each active member's batch loss (A,) at these weights
        (numpy for the fused kernel, a device tensor for torch)."""
        A, B = idx.shape
        n = d.n
        if self.kind == "fused":
            Wn, Gn = (self.model.fused_weights(x.numpy(), n) for x in (W, G))
            loss = np.zeros(A)
            self._fused("grads")(d.ctx_np, d.q_np, d.t_np, idx.numpy(), Wn, Gn, Wn.dtype.type(2.0 / (B * n)), loss)
            return loss
        flat = d.flat_index(idx)
        q = torch.index_select(d.q.reshape(-1, n), 0, flat).reshape(A, B, n)
        t = torch.index_select(d.t.reshape(-1, n), 0, flat).reshape(A, B, n)
        return self.model.torch_grads(d.rows(flat), q, t, W[:A], G[:A], n)

    def epoch(self, d: _Split, idx: torch.Tensor, W: torch.Tensor, G: torch.Tensor, opt: Adam, B: int) -> list:
        """One epoch of the first A = len(idx) members: for each batch of B prompts of ``idx`` (A, P), in order,
        the gradients and one Adam step. Returns each batch's losses (A,). The fused kernel takes the whole
        epoch in one compiled call, with the same operations in the same order as the loop below."""
        A, P = idx.shape
        if self.kind != "fused":
            losses = []
            for start in range(0, P, B):
                losses.append(self.grads(d, idx[:, start : start + B].contiguous(), W, G))
                opt.step(G, A)
            return losses
        S = -(-P // B)
        steps, bc2 = opt.epoch_factors(S)
        Wn, Gn = (self.model.fused_weights(x.numpy(), d.n) for x in (W, G))
        scales = np.array([Wn.dtype.type(2.0 / (min(B, P - s * B) * d.n)) for s in range(S)])
        losses = np.zeros((S, A))
        Wf, mf, vf = opt.flat
        self._fused("epoch")(
            d.ctx_np, d.q_np, d.t_np, np.ascontiguousarray(idx.numpy()), B,
            Wn, Gn, Wf, mf, vf, G.numpy().reshape(Wf.shape), steps, bc2, opt.betas[0], opt.betas[1],
            opt.eps, scales, losses,
        )  # fmt: skip
        return list(losses)

    def mse(self, d: _Split, W: torch.Tensor, A: int) -> np.ndarray:
        if self.kind == "fused":
            out = np.empty((A, d.P), d.ctx_np.dtype)
            self._fused("mse")(d.ctx_np, d.q_np, d.t_np, self.model.fused_weights(W.numpy(), d.n), out, A)
            return out.astype(np.float64)
        chunk = max(1, self.eval_chunk)
        with torch.no_grad():
            p = self.model.views(W[:A], d.n)
            mse = self.model.torch_mse(d.ctx[: A * d.P], d.q[:A], d.t[:A], p, chunk)
        return mse.double().cpu().numpy()


def _flat(W: torch.Tensor, write: bool = False) -> torch.Tensor:
    """(R, ...) weights (e.g. the paper models' (R, 2, n, n)) as the trainer's (R, D); the same memory if ``write``."""
    return W.view(W.shape[0], -1) if write else W.reshape(W.shape[0], -1)


def batch_grads(model: str, split: _Split, idx: torch.Tensor, W: torch.Tensor, G: torch.Tensor, kernel: str = "torch"):
    """Gradient of each member's batch mean per-component MSE w.r.t. its weights W[r], written into G.

    ``split`` holds R members, ``idx`` (A, B) the prompt indices of the first A; W, G (R, D), or (R, 2, n, n)
    for the paper's models; returns each member's batch loss.
    """
    return _Kernel(model, kernel, 100).grads(split, idx, _flat(W), _flat(G, write=True))


def per_prompt_mse(
    model: str, split: _Split, W: torch.Tensor, A: int | None = None, kernel: str = "torch", chunk: int = 100
) -> np.ndarray:
    """(A, P) per-prompt ‖x̂ − x‖²/n of the first A members of ``split`` (float64); W (R, D) or (R, 2, n, n)."""
    return _Kernel(model, kernel, chunk).mse(split, _flat(W), split.R if A is None else A)
