"""Training loop of §3 (Fig. 3): Adam on the per-component MSE, step-decayed learning rate, for
one run or an ensemble of runs trained together as one batched computation, for any model of the
registry in :mod:`icdenoise.models`.

Ensembles. :func:`train_ensemble` trains R runs (:class:`Member`: a training set or an
:class:`OnlinePrompts` stream, a test set and a :class:`TrainConfig`) in one process. Members are
grouped into homogeneous sub-ensembles (same model, n, L, training-set size, test-set size, batch
size, dtype) whose weights live in one (R, D) tensor (D: the model's parameter count; its parameters
by name are views of it; for the paper's models the memory of (R, 2, n, n) = (W_KQ, W_PV)) and step
in lock-step; each member keeps its own data, initial weights (the model's ``init`` from
``Generator().manual_seed(seed)``: ``init_weights`` for W_KQ, W_PV), batch order (the same
``randperm`` stream of that generator), lr and lr schedule, so its curves and weights equal a solo
run's up to float rounding (on the fused CPU kernel: bit for bit). Members with fewer epochs stop
early (groups are sorted by epochs, so the active members are always a prefix). :func:`train` is the
one-member case of the same code.

Kernels. A model computes its own gradients (the paper's two: hand-written, checked against autograd
in the tests; linear attention reads the context only through S = XᵀX/L, Eq. 11, computed once per
prompt; softmax attention reads the (n, L) context itself) or leaves them to autograd. On the CPU a
model with fused numba kernels runs them (:mod:`icdenoise.kernels`: a whole epoch of gradient and
Adam steps in one compiled call; softmax makes one pass over each prompt's context per step, while
it is in cache). On CUDA, with kernel "torch" (argument, or ``ICDENOISE_KERNEL=torch``), or for a
model without fused kernels: batched torch products on the context layout the model asks for.
Those per-step computations (a split in that layout, the fused or torch calls) are in
:mod:`icdenoise.train_steps`; this module holds the settings, the optimiser and the loop.

Losses are per-component MSE, ‖x̂ − x‖²/n, averaged over prompts. The per-epoch train and test
MSE are exact per-prompt means over the whole split with the weights at the end of that epoch
(epoch 0 is the initialisation), not averages of batch means. An online member's "train MSE" of
epoch e is the exact mean over the prompts it was trained on during epoch e (epoch 0: over the
prompts of epoch 1), with the weights at the end of epoch e.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from . import kernels, models
from .tasks import SAMPLERS, PromptBatch, derive_seed
from .train_steps import _Kernel, _np, _Split, batch_grads, per_prompt_mse  # noqa: F401  (re-exported)

log = logging.getLogger("icdenoise")


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
    #: exact train/test MSE every ``eval_every`` epochs and at the last one (epoch 0 always); the curves are NaN
    #: in between, and divergence is checked there on the epoch's batch losses. 1: every epoch (the figures)
    eval_every: int = 1
    divergence_factor: float = 1e4  # train MSE above this multiple of its initial value counts as diverged
    label: str = ""  # names the run (case, model, seed, ...) in errors and the progress bar
    #: the model's options (icdenoise.models.get), e.g. the depth models' {"layers": 3, "tied": True}; {}: none
    model_options: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.model not in models.REGISTRY:
            raise ValueError(f"model must be one of {tuple(models.REGISTRY)}, got {self.model!r}")
        models.get(self.model, self.model_options)  # a bad option is named here, before any training
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.eval_every < 1:
            raise ValueError(f"eval_every must be >= 1, got {self.eval_every}")
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
    """Per-epoch curves (index 0 = initial weights) and final parameters by name (``params``)."""

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays a run file stores: the curves and every final parameter by name."""
        names = ("train_mse", "test_mse", "alpha", "beta", "lr", "train_mse_batch_avg")
        return {**{k: getattr(self, k) for k in names}, **self.params}

    train_mse: np.ndarray
    test_mse: np.ndarray
    alpha: np.ndarray  # the model's α read-out per epoch (mean diag W_PV for the paper's models; else maybe NaN)
    beta: np.ndarray  # likewise β (mean diag W_KQ)
    lr: np.ndarray
    params: dict[str, np.ndarray]  # final parameters by name, float64 (W_KQ, W_PV for the paper's models)
    seconds: float
    device: str
    info: dict = field(default_factory=dict)  # the model's weight summary (paper models: alpha, beta, dist_KQ, ...)
    ensemble_size: int = 1  # members trained together in this run's sub-ensemble
    ensemble_seconds: float = 0.0  # wall time of the whole sub-ensemble (``seconds`` is its share: / size)
    kernel: str = "torch"  # "fused" (numba, CPU) or "torch"
    #: per epoch, the mean of the batch losses seen during it (how the authors' code reported its train
    #: loss; the weights change within the epoch); NaN at epoch 0. ``train_mse`` is the exact split mean.
    train_mse_batch_avg: np.ndarray | None = None
    model: str = ""  # the registered model's name

    def _param(self, name: str) -> np.ndarray:
        if name not in self.params:
            raise AttributeError(f"model {self.model!r} has no parameter {name} (it has {', '.join(self.params)})")
        return self.params[name]

    @property
    def W_KQ(self) -> np.ndarray:
        return self._param("W_KQ")

    @property
    def W_PV(self) -> np.ndarray:
        return self._param("W_PV")


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


@dataclass(frozen=True)
class OnlinePrompts:
    """An endless training stream: ``prompts_per_epoch`` fresh prompts of ``case`` every epoch.

    Epoch e's prompts are ``sample_prompts(case, prompts_per_epoch, derive_seed(seed, "online", e), n,
    L, **case_params)``: one vectorised numpy call per epoch, deterministic, and no prompt is seen
    twice. The epoch is cut into batches exactly as a finite training set of ``prompts_per_epoch``
    prompts would be (ceil(N / batch_size) optimiser steps, the last one possibly smaller), so "N =
    800 prompts" and "online" with the same N and TrainConfig take the same optimiser steps.

    ``sampler="torch"`` draws each epoch with :func:`icdenoise.tasks.sample_prompts_torch` instead
    (the same law, float32 torch draws from the same epoch seed, faster; deterministic too).

    ``sigma_c2`` (None: the clean context, the draws above): a noisy context Y = X + Z, Z ~ N(0, σ_c² I), every
    epoch, ``noisy_tasks.sample_noisy_prompts(case, prompts_per_epoch, epoch_seed, n, L, sigma_c2=...)`` (its
    clean part is the clean epoch's prompts); numpy sampler only.
    """

    case: str
    n: int
    L: int
    case_params: dict
    seed: int
    prompts_per_epoch: int
    sampler: str = "numpy"
    sigma_c2: float | None = None

    def __post_init__(self):
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {sorted(SAMPLERS)}, got {self.sampler!r}")
        if self.sigma_c2 is not None:
            if self.sampler != "numpy":
                raise ValueError(
                    f"sigma_c2 (a noisy-context stream) is not supported with sampler={self.sampler!r}; use 'numpy'"
                )
            if not float(self.sigma_c2) >= 0:
                raise ValueError(f"sigma_c2 must be >= 0 (or None: a clean context), got {self.sigma_c2!r}")

    @property
    def num_prompts(self) -> int:
        return int(self.prompts_per_epoch)

    def epoch_seed(self, epoch: int) -> int:
        return derive_seed(int(self.seed), "online", int(epoch))

    def sample(self, epoch: int, out: np.ndarray | None = None) -> PromptBatch:
        """The training prompts of epoch ``epoch`` (1-based). ``out``: a float32 (P, n, L) buffer the torch
        sampler draws the context into (the same numbers as without it); the numpy sampler ignores it."""
        if self.sigma_c2 is not None:
            from .noisy_tasks import sample_noisy_prompts

            return sample_noisy_prompts(
                self.case, self.num_prompts, self.epoch_seed(epoch), self.n, self.L,
                sigma_c2=float(self.sigma_c2), **self.case_params,
            )  # fmt: skip
        kw = {"out": out} if self.sampler == "torch" and out is not None else {}
        return SAMPLERS[self.sampler](
            self.case, self.num_prompts, self.epoch_seed(epoch), n=self.n, L=self.L, **kw, **self.case_params
        )


def _online_epoch(members: list, epoch: int, XT: np.ndarray | None = None) -> list[PromptBatch]:
    """Epoch ``epoch``'s prompts of each online member; members on the same stream share one draw.

    ``XT`` (R, P, n, L) float32: member r's stream is drawn into XT[r] (the training split's buffer)."""
    drawn: dict[str, PromptBatch] = {}
    out = []
    for r, m in enumerate(members):
        s = m.train_set
        key = repr((s.case, s.n, s.L, sorted(s.case_params.items()), s.seed, s.prompts_per_epoch, s.sampler))
        key += repr(s.sigma_c2)
        if key not in drawn:
            drawn[key] = s.sample(epoch, out=None if XT is None else XT[r])
        out.append(drawn[key])
    return out


@dataclass
class Member:
    """One run of an ensemble: its training data (prompts or an online stream), test prompts and settings."""

    train_set: PromptBatch | OnlinePrompts
    test_set: PromptBatch
    cfg: TrainConfig

    @property
    def online(self) -> bool:
        return isinstance(self.train_set, OnlinePrompts)

    def describe(self) -> str:
        c = self.cfg
        data = (
            f"online(N={self.train_set.num_prompts}/epoch)" if self.online else f"n_train={self.train_set.num_prompts}"
        )
        return (
            f"{c.label or c.model}: model={c.model} lr={c.lr} batch_size={c.batch_size} epochs={c.epochs} "
            f"{data} rng_seed={c.seed}"
        )


class Adam:
    """torch.optim.Adam (no weight decay, no amsgrad) on one tensor, as ~6 in-place ops per step.

    ``lr`` is a float or, for an ensemble, one lr per member (leading dimension of W); ``step(G, A)``
    updates the first A members only (the others have finished). ``fused=True`` (CPU) does the update
    in one numba loop instead of ~8 torch ops, each with its fixed dispatch cost. Matches PyTorch's update to
    rounding (tested); avoids its per-step Python overhead, which is larger than a linear-attention step.
    """

    def __init__(self, W: torch.Tensor, lr, betas=(0.9, 0.999), eps: float = 1e-8, fused: bool | None = None):
        self.W, self.betas, self.eps = W, betas, eps
        self.scalar = np.ndim(lr) == 0
        self.lr = float(lr) if self.scalar else np.asarray(lr, dtype=np.float64).copy()
        self.m, self.v = torch.zeros_like(W), torch.zeros_like(W)
        self.t = 0
        # fused: the numba update (CPU only; where the fused kernels run, i.e. whenever numba is there)
        self._fused = W.device.type == "cpu" and kernels.available() and bool(fused)
        if self._fused:  # numpy views of the same memory, (members, entries)
            lead = (1, -1) if self.scalar else (W.shape[0], -1)
            self._np = tuple(x.numpy().reshape(lead) for x in (W, self.m, self.v))

    @property
    def flat(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """W, m, v as numpy (members, entries) views of the same memory (the fused update's layout)."""
        if not self._fused:
            raise RuntimeError("Adam.flat: only the fused (CPU, numba) update keeps numpy views")
        return self._np

    def epoch_factors(self, steps: int) -> tuple[np.ndarray, np.ndarray]:
        """The fused update's factors of the next ``steps`` steps, (steps, members) and (steps,), exactly as
        :meth:`step` computes them one by one (the step counter advances by ``steps``)."""
        b1, b2 = self.betas
        lr = np.full(1, self.lr) if self.scalar else self.lr
        out, bc2 = np.empty((steps, lr.size)), np.empty(steps)
        for s in range(steps):
            self.t += 1
            out[s] = -lr / (1 - b1**self.t)
            bc2[s] = math.sqrt(1 - b2**self.t)
        return out, bc2

    @torch.no_grad()
    def step(self, G: torch.Tensor, A: int | None = None) -> None:
        b1, b2 = self.betas
        self.t += 1
        A = self.W.shape[0] if A is None else A
        if self._fused:  # one compiled loop instead of ~8 dispatched torch ops
            lr = np.full(1, self.lr) if self.scalar else self.lr
            Wn, mn, vn = self._np
            kernels.adam_step(
                Wn,
                mn,
                vn,
                G.numpy().reshape(Wn.shape),
                1 if self.scalar else A,
                -lr / (1 - b1**self.t),
                b1,
                b2,
                math.sqrt(1 - b2**self.t),
                self.eps,
            )
            return
        full = self.scalar or A == self.W.shape[0]
        W, m, v, G = (self.W, self.m, self.v, G) if full else (self.W[:A], self.m[:A], self.v[:A], G[:A])
        m.lerp_(G, 1 - b1)
        v.mul_(b2).addcmul_(G, G, value=1 - b2)
        denom = v.sqrt().div_(math.sqrt(1 - b2**self.t)).add_(self.eps)
        lr = self.lr if self.scalar else self.lr[:A]
        if self.scalar or (lr == lr[0]).all():  # one lr for all (e.g. the seeds of one setting): no extra op
            W.addcdiv_(m, denom, value=-float(np.max(lr)) / (1 - b1**self.t))
        else:
            step = torch.as_tensor(-lr / (1 - b1**self.t), dtype=W.dtype).to(W.device)
            W.addcdiv_(m.mul(step.reshape((A,) + (1,) * (W.dim() - 1))), denom)


# ----------------------------------------------------------------------------- ensembles


def _progress(total: int, desc: str, show: bool | None):
    show = show if show is not None else sys.stderr.isatty()
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, leave=False)


def _agree(members: list[Member], name: str, given):
    if given is not None:
        return given
    values = {getattr(m.cfg, name) for m in members}
    if len(values) > 1:
        raise ValueError(
            f"the members' TrainConfig.{name} disagree ({sorted(map(str, values))}); pass {name}= to train_ensemble"
        )
    return values.pop()


def _group_key(m: Member, i: int) -> tuple:
    tr, te = m.train_set, m.test_set
    if m.online:
        n, L, P = tr.n, tr.L, tr.num_prompts
        dtype = np.dtype(_np(te.X[:0]).dtype)
    else:
        P, L, n = tr.X.shape
        dtype = np.dtype(_np(tr.X[:0]).dtype)
    if m.cfg.batch_size > P:
        raise ValueError(
            f"batch_size={m.cfg.batch_size} is larger than the training set ({P} prompts)"
            f" of {m.cfg.label or m.cfg.model}"
        )
    if tuple(te.X.shape[1:]) != (L, n):
        raise ValueError(
            f"test prompts of {m.cfg.label or m.cfg.model} have shape {tuple(te.X.shape[1:])}, "
            f"training prompts ({L}, {n})"
        )
    options = repr(sorted(m.cfg.model_options.items()))
    return (
        m.cfg.model,
        options,
        m.online,
        int(n),
        int(L),
        int(P),
        int(te.X.shape[0]),
        int(m.cfg.batch_size),
        dtype.str,
    )


class _SubEnsemble:
    """Members with the same model, shapes and batch size, trained in lock-step (sorted by epochs, longest first)."""

    def __init__(self, members: list[Member], device: torch.device, kernel: str):
        self.members = sorted(members, key=lambda m: -m.cfg.epochs)  # stable: ties keep their order
        m0 = self.members[0]
        self.model, self.online = models.get(m0.cfg.model, m0.cfg.model_options), m0.online
        self.B = m0.cfg.batch_size
        self.device = device
        self.kind = kernels.kernel_choice(kernel, self.model, device.type)
        self.kernel = _Kernel(self.model, self.kind, m0.cfg.eval_chunk)
        self.R = len(self.members)
        self.epochs = [m.cfg.epochs for m in self.members]
        self.dtype = np.dtype(_np(m0.test_set.X[:0]).dtype)
        self._buffer = None  # online, context "XT" (softmax): the training prompts, refilled every epoch
        self.eval_every = [m.cfg.eval_every for m in self.members]

    def _split(self, batches, batch_rows=0, XT=None) -> _Split:
        return _Split(batches, self.model, self.device, self.dtype, self.kind == "fused", batch_rows, XT)

    def _online_split(self, epoch: int, A: int) -> _Split:
        """Epoch ``epoch``'s training split of the first A (online) members; a model that keeps the (n, L) tokens
        (softmax) in float32 draws every stream straight into one (R, P, n, L) buffer, reused every epoch (no
        100 MB allocation per epoch)."""
        m0 = self.members[0].train_set
        if self.model.context == "XT" and self.dtype == np.float32:
            if self._buffer is None:
                self._buffer = np.empty((self.R, m0.num_prompts, m0.n, m0.L), np.float32)
            XT = self._buffer[:A]
            return self._split(_online_epoch(self.members[:A], epoch, XT), A * self.B, XT)
        return self._split(_online_epoch(self.members[:A], epoch), A * self.B)

    def run(self, bar) -> list[TrainResult]:
        R, B = self.R, self.B
        torch_dtype = torch.from_numpy(np.zeros(0, self.dtype)).dtype
        gens = [torch.Generator(device="cpu").manual_seed(int(m.cfg.seed)) for m in self.members]
        n = self._n()
        W = torch.empty(R, self.model.size(n), dtype=torch_dtype)  # (R, D); the paper's models: (R, 2, n, n)
        for r, g in enumerate(gens):  # the same draw as a solo run: reproducible "untrained" weights
            W[r] = self.model.flatten(self.model.init(n, g))
        W = W.to(self.device)
        G = torch.zeros_like(W)
        opt = Adam(W, lr=[m.cfg.lr for m in self.members], fused=self.kind == "fused")
        milestones = [m.cfg.milestone_epochs() for m in self.members]

        t0, c0 = time.perf_counter(), time.process_time()
        te = self._split([m.test_set for m in self.members])
        if self.online:
            c1 = time.process_time()
            tr = self._online_split(1, R)
            sampling = time.process_time() - c1  # CPU seconds spent drawing the streams
        else:
            tr = self._split([m.train_set for m in self.members], R * B)
        P = tr.P
        E = max(self.epochs)
        curves = np.full((R, E + 1, 4), np.nan)
        lrs = np.full((R, E + 1), np.nan)
        batch_avg = np.full((R, E + 1), np.nan)  # epoch 0: no training step yet

        def record(epoch: int, A: int):
            curves[:A, epoch, 2:] = self.model.alpha_beta(self.model.views(W[:A], n))  # (A, 2): alpha, beta
            finite = torch.isfinite(W[:A]).all(1).cpu().numpy()  # (A,) every weight of the member finite
            exact = epoch == 0 or any(epoch % self.eval_every[r] == 0 or epoch == self.epochs[r] for r in range(A))
            if exact:  # every member of this step is evaluated (it costs one pass over both splits)
                curves[:A, epoch, 0] = self.kernel.mse(tr, W, A).mean(-1)
                curves[:A, epoch, 1] = self.kernel.mse(te, W, A).mean(-1)
            for r in range(A):
                c = curves[r, epoch]
                loss = c[0] if exact else batch_avg[r, epoch]
                exploded = epoch > 0 and loss > self.members[r].cfg.divergence_factor * curves[r, 0, 0]
                if exploded or not np.isfinite(loss) or not finite[r] or (exact and not np.isfinite(c[1])):
                    what = f"train MSE {c[0]}, test MSE {c[1]}" if exact else f"batch-mean train MSE {loss}"
                    raise TrainingDiverged(
                        f"training diverged ({what}) at epoch {epoch} of "
                        f"{self.members[r].describe()}" + (f" (member {r + 1} of an ensemble of {R})" if R > 1 else "")
                    )

        record(0, R)
        lrs[:, 0] = opt.lr
        for epoch in range(1, E + 1):
            A = sum(e >= epoch for e in self.epochs)  # active members: a prefix (sorted by epochs)
            if self.online:
                if epoch > 1:
                    c1 = time.process_time()
                    tr = self._online_split(epoch, A)
                    sampling += time.process_time() - c1
                idx = torch.arange(P).expand(A, P)
            else:
                idx = torch.stack([torch.randperm(P, generator=gens[r]) for r in range(A)])
            idx = idx.to(self.device)
            batch_losses = self.kernel.epoch(tr, idx, W, G, opt, B)
            # the authors' reported train loss: the mean of this epoch's batch losses (weights change within it)
            if isinstance(batch_losses[0], torch.Tensor):
                batch_avg[:A, epoch] = torch.stack(batch_losses).mean(0).cpu().numpy()
            else:
                batch_avg[:A, epoch] = np.mean(batch_losses, axis=0)
            lrs[:A, epoch] = opt.lr[:A]  # the lr used during this epoch
            for r in range(A):  # MultiStepLR: decay after each milestone epoch
                opt.lr[r] *= self.members[r].cfg.lr_gamma ** milestones[r].count(epoch)
            record(epoch, A)
            if bar is not None:
                bar.update(A)
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        if self.online:
            log.info(
                "online sub-ensemble of %d: %.1f CPU-s drawing fresh prompts of %.1f CPU-s in all",
                R,
                sampling,
                time.process_time() - c0,
            )
        final = self.model.views(W.cpu().double().numpy(), n)  # name -> (R, *shape) float64
        out = []
        for r, m in enumerate(self.members):
            E_r = m.cfg.epochs
            params = {k: np.array(v[r]) for k, v in final.items()}  # copies; a scalar stays a 0-d array
            out.append(
                TrainResult(
                    train_mse=curves[r, : E_r + 1, 0].copy(),
                    test_mse=curves[r, : E_r + 1, 1].copy(),
                    alpha=curves[r, : E_r + 1, 2].copy(),
                    beta=curves[r, : E_r + 1, 3].copy(),
                    lr=lrs[r, : E_r + 1].copy(),
                    train_mse_batch_avg=batch_avg[r, : E_r + 1].copy(),
                    params=params,
                    seconds=seconds / R,
                    device=str(self.device),
                    info=self.model.summary(params),
                    ensemble_size=R,
                    ensemble_seconds=seconds,
                    kernel=self.kind,
                    model=self.model.name,
                )
            )
        return out

    def _n(self) -> int:
        return int(self.members[0].test_set.X.shape[-1])


@torch.no_grad()
def train_ensemble(
    members: list[Member],
    *,
    device: str | None = None,
    threads: int | None = None,
    progress: bool | None = None,
    kernel: str | None = None,
) -> list[TrainResult]:
    """Train every member (see the module docstring); results in the order of ``members``.

    ``device``, ``threads`` and ``progress`` default to the members' TrainConfig values, which must
    then agree. ``kernel``: "auto" (default; ``$ICDENOISE_KERNEL`` may override), "torch" or "fused"
    (on the CPU, for models with fused kernels; otherwise torch). Members are grouped into sub-ensembles
    of equal (model, online, n, L, training-set size, test-set size, batch size, dtype), each trained in
    lock-step, one after the other. A diverging member raises :class:`TrainingDiverged` naming it (label,
    model, lr, seed, ...).
    """
    if not members:
        return []
    device_name = _agree(members, "device", device)
    threads = _agree(members, "threads", threads)
    show = _agree(members, "progress", progress)
    if threads is not None:
        torch.set_num_threads(max(1, int(threads)))
    dev = resolve_device(device_name)
    groups: dict[tuple, list[int]] = {}
    for i, m in enumerate(members):
        groups.setdefault(_group_key(m, i), []).append(i)
    total = sum(m.cfg.epochs for m in members)
    desc = members[0].cfg.label or members[0].cfg.model if len(members) == 1 else f"ensemble of {len(members)}"
    bar = _progress(total, desc, show)
    results: list[TrainResult | None] = [None] * len(members)
    try:
        for idxs in groups.values():
            sub = _SubEnsemble([members[i] for i in idxs], dev, kernel)
            order = sorted(idxs, key=lambda i: -members[i].cfg.epochs)  # the sub-ensemble's (stable) order
            for i, res in zip(order, sub.run(bar), strict=True):
                results[i] = res
    finally:
        if bar is not None:
            bar.close()
    return results


def train(
    train_set: PromptBatch | OnlinePrompts, test_set: PromptBatch, cfg: TrainConfig, *, kernel: str | None = None
) -> TrainResult:
    """Train the parameters of ``cfg.model`` (the paper's models: W_KQ, W_PV) on ``train_set`` with Adam (§3);
    evaluate both splits every epoch.

    The one-member case of :func:`train_ensemble`.
    """
    return train_ensemble([Member(train_set, test_set, cfg)], kernel=kernel)[0]
