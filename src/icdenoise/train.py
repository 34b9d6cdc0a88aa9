"""Training loop of §3 (Fig. 3): Adam on the per-component MSE, step-decayed learning rate.

Everything stays on one device as whole tensors: a batch is a slice of a permuted index, there is
no DataLoader and no per-prompt Python work. Both models use hand-written gradients (checked
against autograd in the tests) so that a step is a handful of fused batched matrix products:

* linear attention reads the context only through S = XᵀX/L (Eq. 11), computed once per prompt;
* softmax attention reads X in two layouts, (B, L, n) and (B, n, L), each in its fast direction.

Losses are per-component MSE, ‖x̂ − x‖²/n, averaged over prompts. The per-epoch train and test
MSE are exact per-prompt means over the whole split with the weights at the end of that epoch
(epoch 0 is the initialisation), not averages of batch means.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .models import MODELS, context_moment, init_weights, weight_summary
from .tasks import PromptBatch


class TrainingDiverged(RuntimeError):
    """The loss or the weights became NaN/inf."""


class DeviceUnavailable(RuntimeError):
    """The configured device (CUDA) is not available on this machine."""


@dataclass
class TrainConfig:
    """Settings of one training run (defaults: the paper's, §3 and App. E)."""

    model: str
    epochs: int
    batch_size: int = 80
    lr: float = 1e-2
    lr_milestones: tuple[float, ...] = (0.8, 0.9)  # fractions of `epochs`; () = constant lr
    lr_gamma: float = 0.1
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    progress: bool | None = None  # None: a bar only when stderr is a terminal
    eval_chunk: int = 100
    divergence_factor: float = 1e4  # train MSE above this multiple of its initial value counts as diverged
    label: str = ""  # names the run (case, model, seed, ...) in errors and the progress bar

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if any(not 0 < f <= 1 for f in self.lr_milestones):
            raise ValueError(f"lr_milestones are fractions of the epochs in (0, 1], got {self.lr_milestones}")

    @classmethod
    def from_settings(cls, model: str, epochs: int, settings: dict, **kwargs) -> TrainConfig:
        """A config from the workflow's ``train`` settings block (batch_size, lr, lr_milestones, lr_gamma)."""
        return cls(
            model=model,
            epochs=int(epochs),
            batch_size=int(settings["batch_size"]),
            lr=float(settings["lr"]),
            lr_milestones=tuple(settings.get("lr_milestones", (0.8, 0.9))),
            lr_gamma=float(settings.get("lr_gamma", 0.1)),
            **kwargs,
        )

    def milestone_epochs(self) -> list[int]:
        """Epochs after which the lr is multiplied by lr_gamma (MultiStepLR milestones; repeats decay twice)."""
        return sorted(int(f * self.epochs) for f in self.lr_milestones)


@dataclass
class TrainResult:
    """Per-epoch curves (index 0 = initial weights) and final weights."""

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays a run file stores (curves and final weights)."""
        return {k: getattr(self, k) for k in ("train_mse", "test_mse", "alpha", "beta", "lr", "W_KQ", "W_PV")}

    train_mse: np.ndarray
    test_mse: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    lr: np.ndarray
    W_KQ: np.ndarray
    W_PV: np.ndarray
    seconds: float
    device: str
    info: dict = field(default_factory=dict)


def resolve_device(device: str) -> torch.device:
    """'cpu', 'cuda', 'cuda:N' or 'auto'; asking for CUDA where there is none is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable(
            f"device={device!r} was requested but CUDA is not available on this machine "
            "(torch.cuda.is_available() is False); use device 'auto' or 'cpu'"
        )
    return dev


class _Data:
    """A split's tensors on the device, in the layout its model reads fastest.

    Softmax attention keeps only the paper's (B, n, L) layout: both kinds of batched product
    (k^T X and X p) stream L contiguously. A shuffled batch is gathered with ``index_select``
    into a preallocated buffer (advanced indexing is ~10x slower on CPU).
    """

    def __init__(self, batch: PromptBatch, model: str, device: torch.device, batch_size: int = 0):
        self.q = torch.as_tensor(batch.x_query).to(device)
        self.t = torch.as_tensor(batch.x_target).to(device)
        X = torch.as_tensor(batch.X).to(device)
        if model == "linear":
            self.S = context_moment(X)
        else:
            self.X_T = X.transpose(1, 2).contiguous()
            n, L = self.X_T.shape[1:]
            self._buf = torch.empty(batch_size, n, L, device=device, dtype=self.X_T.dtype)

    def __len__(self):
        return self.q.shape[0]

    def rows(self, name: str, idx) -> torch.Tensor:
        """Rows ``idx`` of one of the split's tensors (index_select: no slow advanced indexing)."""
        t = getattr(self, name)
        return t[idx] if isinstance(idx, slice) else torch.index_select(t, 0, idx)

    def context_T(self, idx) -> torch.Tensor:
        """X_T of the prompts ``idx`` (a slice: a view; an index tensor: gathered into the buffer)."""
        if isinstance(idx, slice):
            return self.X_T[idx]
        return torch.index_select(self.X_T, 0, idx, out=self._buf[: idx.shape[0]])


def _linear_forward(d: _Data, idx, W_KQ, W_PV):
    S, q = d.rows("S", idx), d.rows("q", idx)
    k = q @ W_KQ.T
    h = torch.bmm(S, k.unsqueeze(-1)).squeeze(-1)
    return h @ W_PV.T, (S, q, h)


def _linear_backward(cache, g_out, W_PV, G):
    S, q, h = cache
    torch.mm(g_out.T, h, out=G[1])
    g_h = g_out @ W_PV
    g_k = torch.bmm(S, g_h.unsqueeze(-1)).squeeze(-1)  # S is symmetric
    torch.mm(g_k.T, q, out=G[0])


def _softmax_forward(d: _Data, idx, W_KQ, W_PV):
    X_T, q = d.context_T(idx), d.rows("q", idx)
    k = q @ W_KQ.T
    p = torch.softmax(torch.bmm(k.unsqueeze(1), X_T), dim=-1)  # (B, 1, L)
    v = torch.bmm(X_T, p.transpose(1, 2)).squeeze(-1)  # (B, n)
    return v @ W_PV.T, (X_T, q, p, v)


def _softmax_backward(cache, g_out, W_PV, G):
    X_T, q, p, v = cache
    torch.mm(g_out.T, v, out=G[1])
    g_v = g_out @ W_PV
    g_p = torch.bmm(g_v.unsqueeze(1), X_T)  # (B, 1, L)
    g_s = p * (g_p - (v * g_v).sum(-1, keepdim=True).unsqueeze(-1))
    g_k = torch.bmm(X_T, g_s.transpose(1, 2)).squeeze(-1)
    torch.mm(g_k.T, q, out=G[0])


_KERNELS = {"linear": (_linear_forward, _linear_backward), "softmax": (_softmax_forward, _softmax_backward)}


def batch_grads(model: str, d: _Data, idx, W: torch.Tensor, G: torch.Tensor) -> None:
    """Gradient of the batch's mean per-component MSE w.r.t. W = (W_KQ, W_PV), written into G."""
    forward, backward = _KERNELS[model]
    out, cache = forward(d, idx, W[0], W[1])
    err = out - d.rows("t", idx)
    B, n = err.shape
    backward(cache, err.mul_(2.0 / (B * n)), W[1], G)


class Adam:
    """torch.optim.Adam (no weight decay, no amsgrad) on one tensor, as ~6 in-place ops per step.

    Matches PyTorch's update to rounding (tested); avoids its per-step Python overhead, which is
    larger than a linear-attention step here.
    """

    def __init__(self, W: torch.Tensor, lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.W, self.lr, self.betas, self.eps = W, lr, betas, eps
        self.m, self.v = torch.zeros_like(W), torch.zeros_like(W)
        self.t = 0

    @torch.no_grad()
    def step(self, G: torch.Tensor) -> None:
        b1, b2 = self.betas
        self.t += 1
        self.m.lerp_(G, 1 - b1)
        self.v.mul_(b2).addcmul_(G, G, value=1 - b2)
        denom = self.v.sqrt().div_(math.sqrt(1 - b2**self.t)).add_(self.eps)
        self.W.addcdiv_(self.m, denom, value=-self.lr / (1 - b1**self.t))


@torch.no_grad()
def per_prompt_mse(model: str, d: _Data, W_KQ, W_PV, chunk: int = 100) -> torch.Tensor:
    """‖x̂ − x‖²/n for every prompt of a split (softmax: in chunks, so a chunk's context stays in cache)."""
    forward = _KERNELS[model][0]
    if model == "linear":
        chunk = len(d)
    out = []
    for start in range(0, len(d), chunk):
        idx = slice(start, start + chunk)
        pred, _ = forward(d, idx, W_KQ, W_PV)
        out.append((pred - d.t[idx]).square().mean(-1))
    return torch.cat(out)


def _progress(cfg: TrainConfig):
    show = cfg.progress if cfg.progress is not None else sys.stderr.isatty()
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=cfg.epochs, desc=cfg.label or cfg.model, leave=False)


@torch.no_grad()
def train(train_set: PromptBatch, test_set: PromptBatch, cfg: TrainConfig) -> TrainResult:
    """Train W_KQ, W_PV of ``cfg.model`` on ``train_set`` with Adam; evaluate both splits every epoch."""
    if cfg.threads is not None:
        torch.set_num_threads(max(1, int(cfg.threads)))
    device = resolve_device(cfg.device)
    if cfg.batch_size > train_set.num_prompts:
        raise ValueError(
            f"batch_size={cfg.batch_size} is larger than the training set ({train_set.num_prompts} prompts)"
        )
    n = train_set.X.shape[-1]
    gen = torch.Generator(device="cpu").manual_seed(int(cfg.seed))
    W_KQ0, W_PV0 = init_weights(n, gen)
    W = torch.stack([W_KQ0, W_PV0]).to(device)  # (W_KQ, W_PV) in one tensor: one fused Adam update
    G = torch.empty_like(W)
    opt = Adam(W, lr=cfg.lr)
    milestones = cfg.milestone_epochs()

    t0 = time.perf_counter()
    tr = _Data(train_set, cfg.model, device, cfg.batch_size)
    te = _Data(test_set, cfg.model, device)
    P = len(tr)
    E = cfg.epochs
    curves = torch.empty(E + 1, 4, dtype=torch.float64)
    lrs = np.empty(E + 1)

    def record(epoch):
        tr_mse = per_prompt_mse(cfg.model, tr, W[0], W[1], cfg.eval_chunk).double().mean()
        te_mse = per_prompt_mse(cfg.model, te, W[0], W[1], cfg.eval_chunk).double().mean()
        diag = torch.diagonal(W, dim1=-2, dim2=-1).double().mean(-1)  # (beta, alpha)
        curves[epoch] = torch.stack([tr_mse, te_mse, diag[1], diag[0]]).cpu()
        exploded = epoch > 0 and curves[epoch, 0] > cfg.divergence_factor * curves[0, 0]
        if exploded or not torch.isfinite(curves[epoch]).all():
            raise TrainingDiverged(
                f"training diverged (train MSE {curves[epoch, 0].item()}, test MSE {curves[epoch, 1].item()}) "
                f"at epoch {epoch} of {cfg.label or cfg.model}: model={cfg.model} lr={cfg.lr} "
                f"batch_size={cfg.batch_size} epochs={cfg.epochs} rng_seed={cfg.seed}"
            )

    bar = _progress(cfg)
    record(0)
    lrs[0] = cfg.lr
    for epoch in range(1, E + 1):
        perm = torch.randperm(P, generator=gen).to(device)
        for start in range(0, P, cfg.batch_size):
            batch_grads(cfg.model, tr, perm[start : start + cfg.batch_size], W, G)
            opt.step(G)
        lrs[epoch] = opt.lr  # the lr used during this epoch
        opt.lr *= cfg.lr_gamma ** milestones.count(epoch)  # MultiStepLR: decay after each milestone epoch
        record(epoch)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(train=f"{curves[epoch, 0]:.4g}", test=f"{curves[epoch, 1]:.4g}")
    if bar is not None:
        bar.close()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    Wf = W.cpu().double().numpy()
    c = curves.numpy()
    return TrainResult(
        train_mse=c[:, 0],
        test_mse=c[:, 1],
        alpha=c[:, 2],
        beta=c[:, 3],
        lr=lrs,
        W_KQ=Wf[0],
        W_PV=Wf[1],
        seconds=seconds,
        device=str(device),
        info=weight_summary(torch.from_numpy(Wf[0]), torch.from_numpy(Wf[1])),
    )
