"""Ensemble trainer (icdenoise.train.train_ensemble) and online training: members equal solo runs, determinism,
divergence naming the member, online streams; plus the fused kernel's plumbing (kernel choice, Adam step).

Tiny problems (n <= 8, L <= 24): the whole file takes seconds.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from icdenoise import kernels
from icdenoise.models import attention, init_weights
from icdenoise.tasks import sample_prompts
from icdenoise.train import (
    Adam,
    Member,
    OnlinePrompts,
    TrainConfig,
    TrainingDiverged,
    train,
    train_ensemble,
)

SPH = dict(d=3, R=1.0, sigma_z2=0.1)
SUB = dict(d=4, sigma0_2=2.0, sigma_z2=1.0)
KERNELS = ["torch", pytest.param("fused", marks=pytest.mark.skipif(not kernels.available(), reason="no numba"))]
FIELDS = ("train_mse", "test_mse", "alpha", "beta", "lr", "W_KQ", "W_PV")


def _sets(case, n_train, n_test, seed, n=6, L=12, **kw):
    params = SPH if case == "sphere" else SUB
    b = sample_prompts(case, n_train + n_test, seed, n=n, L=L, **{**params, **kw})
    return b.subset(slice(0, n_train)), b.subset(slice(n_train, None))


def _heterogeneous_members():
    """Both models, different seeds, lr, schedules, epochs, training-set sizes, batch sizes, L and n."""
    out = []
    for i, (model, case, n_train, B, E, lr, L, n) in enumerate(
        [
            ("softmax", "sphere", 60, 16, 5, 1e-2, 12, 6),
            ("softmax", "sphere", 60, 16, 3, 5e-2, 12, 6),  # same sub-ensemble, fewer epochs: stops early
            ("softmax", "sphere", 60, 16, 5, 2e-2, 12, 6),
            ("linear", "subspace", 60, 16, 4, 1e-2, 12, 6),
            ("linear", "subspace", 40, 10, 6, 3e-2, 12, 6),  # another training-set and batch size
            ("softmax", "sphere", 50, 20, 4, 1e-2, 20, 8),  # another n and L
            ("linear", "subspace", 60, 16, 2, 1e-2, 12, 6),
        ]
    ):
        tr, te = _sets(case, n_train, 40 if i == 4 else 30, 100 + i, n=n, L=L)
        cfg = TrainConfig(
            model=model,
            epochs=E,
            batch_size=B,
            lr=lr,
            seed=10 + i,
            label=f"case={case} model={model} seed={i}",
            lr_milestones=(0.5, 0.8) if i % 2 else (0.8, 0.9),
        )
        out.append(Member(tr, te, cfg))
    return out


@pytest.mark.parametrize("kernel", KERNELS)
def test_every_member_equals_its_solo_run(kernel):
    """A heterogeneous ensemble (both models, 3 sub-ensembles, early-stopping members) gives each member
    what train() gives it alone: bit for bit on the fused kernel (members never mix in its loops), and
    within float32 rounding on torch's batched products (member-batched bmm may block sums differently).
    """
    members = _heterogeneous_members()
    ens = train_ensemble(members, kernel=kernel)
    assert [r.ensemble_size for r in ens] == [3, 3, 3, 2, 1, 1, 2]
    for m, r in zip(members, ens, strict=True):
        solo = train(m.train_set, m.test_set, m.cfg, kernel=kernel)
        assert r.train_mse.shape == (m.cfg.epochs + 1,) and r.lr.shape == (m.cfg.epochs + 1,)
        for name in FIELDS:
            a, b = getattr(r, name), getattr(solo, name)
            if kernel == "fused":
                assert np.array_equal(a, b), (m.cfg.label, name)
            else:
                np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-7, err_msg=f"{m.cfg.label} {name}")
        assert r.kernel == kernel
        # epoch 0 is the seed's own initialisation, as a solo run draws it
        W0 = init_weights(m.train_set.X.shape[-1], torch.Generator().manual_seed(m.cfg.seed))
        assert r.alpha[0] == pytest.approx(float(torch.diagonal(W0[1]).double().mean()), rel=1e-6)


@pytest.mark.skipif(not kernels.available(), reason="no numba")
@pytest.mark.parametrize("model", ["linear", "softmax"])
def test_fused_and_torch_kernels_train_the_same_run(model):
    """The fused CPU kernel and the torch path give the same training run within float32 rounding."""
    tr, te = _sets("sphere", 60, 40, 5)
    cfg = TrainConfig(model=model, epochs=4, batch_size=16, lr=5e-2, seed=2)
    a, b = train(tr, te, cfg, kernel="fused"), train(tr, te, cfg, kernel="torch")
    for name in FIELDS:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-4, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("kernel", KERNELS)
def test_ensemble_is_bit_reproducible(kernel):
    members = _heterogeneous_members()[:4]
    a, b = train_ensemble(members, kernel=kernel), train_ensemble(members, kernel=kernel)
    for ra, rb in zip(a, b, strict=True):
        for name in FIELDS:
            assert np.array_equal(getattr(ra, name), getattr(rb, name)), name


def test_diverging_member_is_named():
    members = _heterogeneous_members()[:3]
    members[1] = dataclasses.replace(members[1], cfg=dataclasses.replace(members[1].cfg, lr=1e12, seed=77))
    with pytest.raises(TrainingDiverged) as info:
        train_ensemble(members)
    msg = str(info.value)
    assert members[1].cfg.label in msg and "rng_seed=77" in msg and "lr=1000000000000.0" in msg
    assert "of an ensemble of 3" in msg


@pytest.mark.parametrize("online", [False, True])
def test_eval_every_only_skips_the_exact_passes(online):
    tr, te = _sets("sphere", 48, 20, 3)
    data = _online("sphere", 48, 9, n=6, L=12) if online else tr
    cfg = TrainConfig(model="softmax", epochs=7, batch_size=16, seed=5, lr=2e-2)
    every = train(data, te, cfg)
    sparse = train(data, te, dataclasses.replace(cfg, eval_every=3))
    for name in ("alpha", "beta", "lr", "train_mse_batch_avg", "W_KQ", "W_PV"):
        assert np.array_equal(getattr(every, name), getattr(sparse, name), equal_nan=True), name
    exact = [0, 3, 6, 7]  # multiples of 3 and the last epoch
    for name in ("train_mse", "test_mse"):
        a, b = getattr(every, name), getattr(sparse, name)
        assert np.array_equal(a[exact], b[exact]), name
        assert np.isnan(np.delete(b, exact)).all() and np.isfinite(a).all(), name
    with pytest.raises(ValueError, match="eval_every"):
        dataclasses.replace(cfg, eval_every=0)


def test_divergence_between_exact_evaluations_is_caught_on_the_batch_losses():
    tr, te = _sets("sphere", 48, 20, 3)
    cfg = TrainConfig(model="softmax", epochs=50, batch_size=16, seed=5, lr=1e12, eval_every=50, label="sparse")
    with pytest.raises(TrainingDiverged, match="batch-mean train MSE .* at epoch 1 of sparse"):
        train(tr, te, cfg)


def test_settings_that_must_agree():
    members = _heterogeneous_members()[:2]
    members[1] = dataclasses.replace(members[1], cfg=dataclasses.replace(members[1].cfg, threads=2))
    with pytest.raises(ValueError, match="threads disagree"):
        train_ensemble(members)
    before = torch.get_num_threads()
    try:
        train_ensemble(members, threads=1)  # an explicit value settles it
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert train_ensemble([]) == []


def test_batch_larger_than_training_set_names_the_member():
    tr, te = _sets("subspace", 30, 10, 0)
    cfg = TrainConfig(model="linear", epochs=1, batch_size=31, label="case=x model=linear seed=3")
    with pytest.raises(ValueError, match=r"batch_size=31 is larger than the training set \(30 prompts\) of case=x"):
        train_ensemble([Member(tr, te, cfg)])


def test_kernel_choice(monkeypatch):
    monkeypatch.delenv(kernels.KERNEL_ENV, raising=False)
    fused = "fused" if kernels.available() else "torch"
    assert kernels.kernel_choice(None, "softmax", "cpu") == fused
    assert kernels.kernel_choice("auto", "linear", "cpu") == fused  # both models fuse on the CPU
    assert kernels.kernel_choice("auto", "linear", "cuda") == "torch"
    assert kernels.kernel_choice("fused", "softmax", "cuda") == "torch"  # CUDA always uses torch
    monkeypatch.setenv(kernels.KERNEL_ENV, "torch")
    assert kernels.kernel_choice(None, "softmax", "cpu") == "torch"
    assert kernels.kernel_choice("fused", "softmax", "cpu") == fused  # an explicit argument wins over the env
    monkeypatch.setenv(kernels.KERNEL_ENV, "fast")
    with pytest.raises(ValueError, match="ICDENOISE_KERNEL"):
        kernels.kernel_choice(None, "softmax", "cpu")


@pytest.mark.skipif(not kernels.available(), reason="no numba")
def test_per_member_lr_adam_matches_torch_adam_per_member():
    """An ensemble Adam with one lr per member and A < R active members = torch.optim.Adam on each member."""
    g = torch.Generator().manual_seed(0)
    W0 = torch.randn(3, 2, 4, 4, generator=g)
    lrs = [1e-2, 3e-2, 1e-3]
    mine = W0.clone()
    opt = Adam(mine, lr=lrs, fused=True)
    refs = [W0[r].clone().requires_grad_(True) for r in range(3)]
    topts = [torch.optim.Adam([p], lr=lr) for p, lr in zip(refs, lrs, strict=True)]
    for k in range(12):
        G = torch.randn(3, 2, 4, 4, generator=g)
        A = 3 if k < 8 else 2  # the last member stops after 8 steps
        opt.step(G, A)
        for r in range(A):
            refs[r].grad = G[r].clone()
            topts[r].step()
    for r in range(3):
        assert torch.allclose(mine[r], refs[r].detach(), rtol=1e-5, atol=1e-7), r


# ----------------------------------------------------------------------------- online training


def _online(case, N, seed, n, L, **kw):
    params = SPH if case == "sphere" else SUB
    return OnlinePrompts(case=case, n=n, L=L, case_params={**params, **kw}, seed=seed, prompts_per_epoch=N)


def test_online_stream_is_seeded_fresh_and_vectorised():
    s = _online("sphere", 20, 3, n=6, L=12)
    a, b, c = s.sample(1), s.sample(1), s.sample(2)
    assert a.X.shape == (20, 12, 6) and np.array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)
    assert _online("sphere", 20, 4, n=6, L=12).sample(1).X[0, 0, 0] != a.X[0, 0, 0]


@pytest.mark.parametrize("model,case", [("linear", "subspace"), ("softmax", "sphere")])
def test_online_training_is_deterministic_and_takes_the_finite_runs_steps(model, case):
    n, L = 6, 12
    tr, te = _sets(case, 50, 40, 1, n=n, L=L)
    cfg = TrainConfig(model=model, epochs=3, batch_size=16, seed=5, lr=2e-2)
    stream = _online(case, 50, 9, n=n, L=L)
    a = train(stream, te, cfg)
    b = train_ensemble([Member(stream, te, cfg), Member(tr, te, cfg)])
    for name in FIELDS:
        assert np.array_equal(getattr(a, name), getattr(b[0], name)), name
    # same init as the finite-N run of the same seed, different data afterwards
    assert a.train_mse.shape == b[1].train_mse.shape
    assert a.alpha[0] == b[1].alpha[0] and a.test_mse[0] == b[1].test_mse[0]
    assert not np.array_equal(a.W_KQ, b[1].W_KQ)
    # the last epoch's "train MSE" is the exact MSE of the final weights on that epoch's prompts
    last = stream.sample(cfg.epochs)
    pred = attention(
        model,
        torch.from_numpy(last.X).double(),
        torch.from_numpy(last.x_query).double(),
        torch.from_numpy(a.W_KQ),
        torch.from_numpy(a.W_PV),
    )
    mse = (pred - torch.from_numpy(last.x_target).double()).square().mean(-1).mean().item()
    assert a.train_mse[-1] == pytest.approx(mse, rel=1e-5)
    # and the number of optimiser steps equals the finite run's: ceil(50 / 16) = 4 per epoch (Adam's t)
    from icdenoise import train as train_mod

    steps = []
    orig, orig_epoch = train_mod.Adam.step, train_mod.Adam.epoch_factors

    def counting(self, G, A=None):
        steps.append(1)
        return orig(self, G, A)

    def counting_epoch(self, n):  # the fused kernel takes a whole epoch's steps at once
        steps.extend([1] * n)
        return orig_epoch(self, n)

    train_mod.Adam.step, train_mod.Adam.epoch_factors = counting, counting_epoch
    try:
        train(stream, te, cfg)
    finally:
        train_mod.Adam.step, train_mod.Adam.epoch_factors = orig, orig_epoch
    assert len(steps) == cfg.epochs * math.ceil(50 / 16)


@pytest.mark.parametrize("model,case,extra", [("linear", "subspace", {}), ("softmax", "sphere", {})])
def test_online_is_no_worse_than_a_tiny_training_set(model, case, extra):
    """Same seeds, settings and steps: trained on 16 fixed prompts vs fresh prompts every batch.

    Both final models are scored on the same 3000 fresh prompts (paired, so prompt-to-prompt spread
    cancels). The claim tested is one-sided: mean(online) − mean(tiny) ≤ 3 standard errors of the paired
    difference (a false failure has probability ~0.1 % if the two were equally good; in fact 16 prompts
    for 2n² = 128 parameters overfit, so online is better by many SE).
    """
    n, L, N, B = 8, 16, 16, 8
    lr = 3e-2 if model == "linear" else 5e-2
    cfg = TrainConfig(model=model, epochs=40, batch_size=B, lr=lr, seed=1)
    tr, te = _sets(case, N, 200, 2, n=n, L=L)
    fresh = sample_prompts(case, 3000, 3, n=n, L=L, **(SPH if case == "sphere" else SUB))
    tiny, online = train_ensemble([Member(tr, te, cfg), Member(_online(case, N, 4, n=n, L=L), te, cfg)])

    def fresh_mse(r):
        pred = attention(
            model,
            torch.from_numpy(fresh.X).double(),
            torch.from_numpy(fresh.x_query).double(),
            torch.from_numpy(r.W_KQ),
            torch.from_numpy(r.W_PV),
        )
        return (pred - torch.from_numpy(fresh.x_target).double()).square().mean(-1).numpy()

    d = fresh_mse(online) - fresh_mse(tiny)
    se = d.std(ddof=1) / math.sqrt(len(d))
    assert d.mean() <= 3 * se, (d.mean(), se)
    assert tiny.train_mse[-1] < tiny.test_mse[-1]  # the tiny run overfits its 16 prompts


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("model", ["linear", "softmax"])
def test_batch_average_train_loss_is_the_mean_of_the_epochs_batch_losses(model, kernel):
    """train_mse_batch_avg (the authors' reported train loss) is the mean of the batch losses of the epoch:
    with a vanishing lr the weights stay put and equal batches partition the split, so it equals the exact
    split mean; with a real lr it differs from the end-of-epoch exact mean."""
    tr, te = _sets("subspace", 40, 10, 5, **SUB)
    frozen = TrainConfig(model=model, epochs=3, batch_size=8, lr=1e-12, seed=1, progress=False)
    (res,) = train_ensemble([Member(tr, te, frozen)], kernel=kernel)
    assert np.isnan(res.train_mse_batch_avg[0]) and res.train_mse_batch_avg.shape == res.train_mse.shape
    np.testing.assert_allclose(res.train_mse_batch_avg[1:], res.train_mse[1:], rtol=1e-5)
    moving = dataclasses.replace(frozen, lr=0.05)
    (res,) = train_ensemble([Member(tr, te, moving)], kernel=kernel)
    assert np.all(np.abs(res.train_mse_batch_avg[1:] - res.train_mse[1:]) > 1e-6 * res.train_mse[1:])
    assert "train_mse_batch_avg" in res.arrays()
