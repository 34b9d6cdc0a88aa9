"""The model interface of the trainer (§3.1): named parameters, a torch forward pass, optional hand-written gradients
and fused CPU kernels; and the weights the paper's two models share (W_KQ, W_PV, Eq. 11-12).

Weights of R members live in one (R, D) tensor (D = :meth:`Model.size`), parameter after parameter in the order
of :attr:`Model.params`; :meth:`Model.views` names its pieces without copying. For W_KQ, W_PV that is the memory
of an (R, 2, n, n) tensor, the layout of the fused kernels. Where a model brings no gradient of its own, the
trainer differentiates :meth:`Model.forward` with autograd (:meth:`Model.torch_grads`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Param:
    """One parameter: its name, its shape for token dimension n, its float64 initial draw (shape, generator)."""

    name: str
    shape: Callable[[int], tuple[int, ...]]
    init: Callable[[tuple[int, ...], torch.Generator], torch.Tensor]


def square(n: int) -> tuple[int, int]:
    return (n, n)


def scalar(n: int) -> tuple[()]:
    return ()


def uniform(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """U[-1/√n, 1/√n] in float64, n = shape[-1] (the PyTorch default of an n x n layer, as in the paper §3)."""
    bound = 1.0 / math.sqrt(shape[-1])
    return (torch.rand(*shape, generator=generator, dtype=torch.float64) * 2 - 1) * bound


def zeros(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """0 (draws nothing from the generator)."""
    return torch.zeros(shape, dtype=torch.float64)


def init_weights(n: int, generator: torch.Generator, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """(W_KQ, W_PV), each U[-1/√n, 1/√n] (the PyTorch default for an n x n layer, as in the paper)."""
    W_KQ = uniform((n, n), generator)
    W_PV = uniform((n, n), generator)
    return W_KQ.to(dtype), W_PV.to(dtype)


def scaled_identity_weights(n: int, alpha: float, beta: float, dtype=torch.float32):
    """(W_KQ, W_PV) = (βI, αI): the scaled-identity solutions of §3.1."""
    eye = torch.eye(n, dtype=dtype)
    return beta * eye, alpha * eye


def weight_summary(W_KQ: torch.Tensor, W_PV: torch.Tensor) -> dict[str, float]:
    """α = mean diag(W_PV), β = mean diag(W_KQ), and each matrix's relative distance from a scaled identity.

    ``dist_KQ`` = ‖W_KQ − βI‖_F / ‖W_KQ‖_F (0 for an exact scaled identity, ~1 for a random matrix).
    """
    out = {}
    for name, W, key in (("KQ", W_KQ, "beta"), ("PV", W_PV, "alpha")):
        W = torch.as_tensor(W, dtype=torch.float64)
        mean_diag = torch.diagonal(W).mean()
        resid = W - mean_diag * torch.eye(W.shape[0], dtype=W.dtype)
        out[key] = float(mean_diag)
        out[f"dist_{name}"] = float(resid.norm() / W.norm().clamp_min(1e-300))
    return out


class Model:
    """A one-layer denoiser x̂ = f(context, x̃; params) trained on the per-component MSE (Eq. 1).

    Subclasses set ``name``, ``params`` and :meth:`forward`; they may bring hand-written gradients
    (:meth:`torch_grads`), fused CPU kernels (``fused``: the prefix of ``kernels_numba``'s ``<fused>_grads``,
    ``<fused>_epoch``, ``<fused>_mse``) and a context of their own (``context`` and :meth:`context_of`).
    """

    name: str = ""
    params: tuple[Param, ...] = ()
    #: what the trainer keeps of a prompt's context: "XT" = the tokens as (n, L) (the prompts' own layout, which the
    #: online sampler draws into in place), any other name = :meth:`context_of` of X (B, L, n)
    context: str = "X"
    #: prefix of this model's fused CPU kernels in icdenoise.kernels_numba; None: the CPU uses the torch path
    fused: str | None = None
    #: parameters held at their initial value (zero gradient, so Adam leaves them exactly where they start)
    frozen: tuple[str, ...] = ()

    def shapes(self, n: int) -> dict[str, tuple[int, ...]]:
        return {p.name: tuple(p.shape(n)) for p in self.params}

    def size(self, n: int) -> int:
        """D: the number of weights of one member."""
        return sum(math.prod(s) for s in self.shapes(n).values())

    def init(self, n: int, generator: torch.Generator, dtype=torch.float32) -> dict[str, torch.Tensor]:
        """Initial parameters, drawn in float64 in the order of ``params`` from ``generator``, then cast to dtype."""
        return {p.name: p.init(tuple(p.shape(n)), generator).to(dtype) for p in self.params}

    def flatten(self, params: dict) -> torch.Tensor:
        """(D,) the weights of one member from its named parameters (the layout of :meth:`views`)."""
        return torch.cat([torch.as_tensor(params[p.name]).reshape(-1) for p in self.params])

    def views(self, W, n: int) -> dict:
        """Named views (A, *shape) of the weights W (A, D), torch or numpy, sharing W's memory."""
        out, o = {}, 0
        for name, shape in self.shapes(n).items():
            size = math.prod(shape)
            part = W[:, o : o + size]
            out[name] = part.view(W.shape[0], *shape) if isinstance(W, torch.Tensor) else part.reshape(-1, *shape)
            o += size
        return out

    def context_of(self, X: torch.Tensor) -> torch.Tensor:
        """What :meth:`forward` reads of each prompt's context X (B, L, n): here X itself."""
        return X

    def forward(self, ctx: torch.Tensor, q: torch.Tensor, p: dict) -> torch.Tensor:
        """x̂ (A, B, n) of A members' B prompts each: ctx (A·B, ...) member-major, queries q (A, B, n), p (A, *shape)."""
        raise NotImplementedError

    def predict(self, X: torch.Tensor, x_query: torch.Tensor, params: dict, X_T=None) -> torch.Tensor:
        """x̂ (B, n) for contexts X (B, L, n), queries x̃ (B, n) and one set of parameters (by name)."""
        missing = [p.name for p in self.params if params.get(p.name) is None]
        if missing:
            raise ValueError(f"model {self.name!r} needs the parameters {', '.join(missing)}")
        p = {k: torch.as_tensor(params[k]).unsqueeze(0) for k in self.shapes(X.shape[-1])}
        return self.forward(self.context_of(X), x_query.unsqueeze(0), p)[0]

    def torch_grads(self, ctx, q, t, W: torch.Tensor, G: torch.Tensor, n: int) -> torch.Tensor:
        """G (A, D) = gradient of each member's batch-mean per-component MSE ‖x̂ − x‖²/n (t: targets (A, B, n));
        returns those losses (A,) float64. Here by autograd of their sum (members do not share weights)."""
        with torch.enable_grad():
            Wa = W.detach().requires_grad_(True)
            err = self.forward(ctx, q, self.views(Wa, n)) - t  # (A, B, n)
            (g,) = torch.autograd.grad(err.square().mean((1, 2)).sum(), Wa)
        G.copy_(g)
        for name in self.frozen:
            self.views(G, n)[name].zero_()
        return err.detach().double().square().mean((1, 2))

    def torch_mse(self, ctx, q, t, p: dict, chunk: int) -> torch.Tensor:
        """(A, P) per-prompt ‖x̂ − x‖²/n of A members (ctx (A·P, ...)), ``chunk`` prompts of each member at a time."""
        A, P = q.shape[:2]
        per = ctx.reshape(A, P, *ctx.shape[1:])
        out = torch.empty(A, P, dtype=q.dtype, device=q.device)
        for s in range(0, P, chunk):
            e = min(P, s + chunk)
            x_hat = self.forward(per[:, s:e].reshape(A * (e - s), *ctx.shape[1:]), q[:, s:e], p)
            out[:, s:e] = (x_hat - t[:, s:e]).square().mean(-1)
        return out

    def alpha_beta(self, p: dict) -> np.ndarray:
        """(A, 2) float64 (α, β) per member for the curves; NaN where the model has no such read-out."""
        A = next(iter(p.values())).shape[0]
        return np.full((A, 2), np.nan)

    def summary(self, params: dict[str, np.ndarray]) -> dict[str, float]:
        """Scalars describing one member's final parameters (the run records' weight summary)."""
        return {}

    def fused_weights(self, W: np.ndarray, n: int) -> np.ndarray:
        """The weights W (R, D) as the fused kernels read them."""
        return W

    def fused_kernel(self, step: str):
        """This model's fused CPU kernel of ``step`` ("grads", "epoch", "mse"): ``kernels_numba.<fused>_<step>``."""
        from .. import kernels

        return getattr(kernels, f"{self.fused}_{step}")


#: W_KQ, W_PV (n x n), U[-1/√n, 1/√n], drawn in this order: exactly :func:`init_weights`.
KQ_PV = (Param("W_KQ", square, uniform), Param("W_PV", square, uniform))


class KQPVModel(Model):
    """A model with the paper's two matrices W_KQ, W_PV: α = mean diag W_PV, β = mean diag W_KQ (§3.1)."""

    params = KQ_PV

    def alpha_beta(self, p: dict) -> np.ndarray:
        W = torch.stack((p["W_KQ"], p["W_PV"]), 1)  # (A, 2, n, n)
        return torch.diagonal(W, dim1=-2, dim2=-1).double().mean(-1).cpu().numpy()[:, ::-1]  # (A, 2): α, β

    def summary(self, params: dict[str, np.ndarray]) -> dict[str, float]:
        return weight_summary(torch.as_tensor(params["W_KQ"]), torch.as_tensor(params["W_PV"]))


class PaperModel(KQPVModel):
    """Eq. 11 / Eq. 12: x̂ = W_PV h with h a function of the context and k = W_KQ x̃; hand-written gradients
    (checked against autograd in the tests) and the fused kernels of icdenoise.kernels_numba."""

    def forward_cached(self, ctx, q, p) -> tuple[torch.Tensor, tuple]:
        """(x̂ (A, B, n), what :meth:`backward_k` needs)."""
        raise NotImplementedError

    def backward_k(self, cache: tuple, err: torch.Tensor, g_h: torch.Tensor, G_PV: torch.Tensor) -> torch.Tensor:
        """Writes the gradient w.r.t. W_PV into G_PV (A, n, n); returns the gradient w.r.t. k (A, B, n)."""
        raise NotImplementedError

    def forward(self, ctx, q, p):
        return self.forward_cached(ctx, q, p)[0]

    def torch_grads(self, ctx, q, t, W, G, n):
        A, B = q.shape[:2]
        p, g = self.views(W, n), self.views(G, n)
        out, cache = self.forward_cached(ctx, q, p)
        err = out - t
        loss = err.double().square().mean((1, 2))  # stays on the device: no synchronisation per step
        err.mul_(2.0 / (B * n))
        g_h = torch.bmm(err, p["W_PV"])  # gradient w.r.t. h (linear) or v (softmax), (A, B, n)
        g_k = self.backward_k(cache, err, g_h, g["W_PV"])
        torch.bmm(g_k.transpose(1, 2), q, out=g["W_KQ"])
        return loss

    def fused_weights(self, W: np.ndarray, n: int) -> np.ndarray:
        return W.reshape(W.shape[0], 2, n, n)


def check_options(options: Mapping, spec: Mapping, model: str) -> dict:
    """``options`` with the defaults of ``spec`` (option -> (type, default)) filled in; a ValueError names an
    unknown key or a bad value ("<model> model option <key> must be ...")."""
    unknown = sorted(set(options) - set(spec))
    if unknown:
        raise ValueError(f"unknown {model} model option(s) {', '.join(unknown)}; allowed: {', '.join(spec)}")
    out = {}
    for key, (kind, default) in spec.items():
        v = options.get(key, default)
        if kind is bool and not isinstance(v, (bool, np.bool_)):
            raise ValueError(f"{model} model option {key} must be a boolean, got {v!r}")
        if kind is int and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or int(v) < 1):
            raise ValueError(f"{model} model option {key} must be an integer >= 1, got {v!r}")
        if kind is float and (isinstance(v, bool) or not isinstance(v, (int, float, np.number)) or not np.isfinite(v)):
            raise ValueError(f"{model} model option {key} must be a finite number, got {v!r}")
        out[key] = kind(v)
    return out


class LayeredModel(Model):
    """A model with one (W_KQ, W_PV, λ) per weight set: W_KQ, W_PV (T, n, n) and lam (T,) (the multi-layer models)."""

    #: the number of the first weight set in :meth:`summary`'s keys (``lam_0`` or ``lam_1``, ...)
    first_set = 0

    def alpha_beta(self, p):
        """(A, 2): α, β averaged over the weight sets (the curves; :meth:`summary` gives them per set)."""
        W = torch.stack((p["W_KQ"], p["W_PV"]), 1)  # (A, 2, T, n, n)
        ab = torch.diagonal(W, dim1=-2, dim2=-1).double().mean((-1, -2)).cpu().numpy()  # (A, 2): β, α
        return ab[:, ::-1]

    def summary(self, params):
        """Per weight set t: lam_t, alpha_t, beta_t, dist_KQ_t, dist_PV_t; and their means as alpha, beta, ..."""
        out, per = {}, []
        for t in range(np.asarray(params["lam"]).shape[0]):
            s = weight_summary(torch.as_tensor(params["W_KQ"][t]), torch.as_tensor(params["W_PV"][t]))
            s["lam"] = float(np.asarray(params["lam"])[t])
            per.append(s)
            out.update({f"{k}_{t + self.first_set}": v for k, v in s.items()})
        for k in per[0]:
            out[k] = float(np.mean([s[k] for s in per]))
        return out
