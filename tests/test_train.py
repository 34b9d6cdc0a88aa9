"""Training loop of §3 (icdenoise.train): gradients, Adam, lr schedule, reproducibility, convergence.

Runs are kept tiny (n = 8, L <= 100, a few hundred prompts) so the file takes seconds on two cores.
"""

import dataclasses
import math
import re

import numpy as np
import pytest
import torch

from icdenoise import kernels, models
from icdenoise.bayes import (
    bayes_mse_subspace,
    bayes_optimal_sphere,
    bayes_optimal_subspace,
    linear_attention_finite_L_mse,
    linear_attention_gamma_star,
    mse_per_component,
)
from icdenoise.denoisers.base import Model
from icdenoise.models import attention, init_weights, scaled_identity_weights
from icdenoise.tasks import sample_prompts
from icdenoise.train import (
    Adam,
    TrainConfig,
    TrainingDiverged,
    _Split,
    batch_grads,
    per_prompt_mse,
    resolve_device,
    train,
)

KERNELS = ["torch", pytest.param("fused", marks=pytest.mark.skipif(not kernels.available(), reason="no numba"))]

SUB = dict(d=4, sigma0_2=2.0, sigma_z2=1.0)
SPH = dict(d=3, R=1.0, sigma_z2=0.1)


def _t(a, dtype=torch.float64) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a)).to(dtype)


def _as_float64(b):
    """The same PromptBatch with float64 prompts (numpy or torch, whichever the sampler returns)."""
    conv = (lambda a: a.astype(np.float64)) if isinstance(b.X, np.ndarray) else (lambda a: a.double())
    return dataclasses.replace(b, X=conv(b.X), x_query=conv(b.x_query), x_target=conv(b.x_target))


def _split(b, model, kernel="torch", batch_rows=0):
    """A one-member _Split of a PromptBatch in its own dtype."""
    dtype = np.asarray(b.X[:0]).dtype if isinstance(b.X, np.ndarray) else b.X.numpy().dtype
    return _Split([b], model, torch.device("cpu"), dtype, kernel == "fused", batch_rows)


def _per_prompt(model, b, W_KQ, W_PV, dtype=torch.float64):
    """Independent per-prompt MSE per component of the model on a PromptBatch, via icdenoise.models."""
    X, q, t = _t(b.X, dtype), _t(b.x_query, dtype), _t(b.x_target, dtype)
    out = attention(model, X, q, _t(W_KQ, dtype), _t(W_PV, dtype))
    return (out - t).square().mean(-1).double()


# ----------------------------------------------------------------------------- gradients


def _model_kernels():
    no_numba = pytest.mark.skipif(not kernels.available(), reason="no numba")
    return [
        ("linear", "torch"),
        ("softmax", "torch"),
        pytest.param("linear", "fused", marks=no_numba),
        pytest.param("softmax", "fused", marks=no_numba),
    ]


@pytest.mark.parametrize("model,kernel", _model_kernels())
@pytest.mark.parametrize("use_index", [False, True])
def test_batch_grads_match_autograd_float64(model, kernel, use_index):
    """The hand-written gradient of the batch's mean per-component MSE equals torch.autograd (float64).

    float64 throughout: the only differences are summation order (the fused kernel reassociates its
    reductions over L), ~1e-16 relative per operation, so rtol 1e-10 is generous and still catches
    any wrong term.
    """
    n, L, B = 5, 9, 12
    b = _as_float64(sample_prompts("sphere", 30, 3, n=n, L=L, d=2, R=1.0, sigma_z2=0.1))
    data = _split(b, model, kernel, batch_rows=B)
    assert data.q.dtype == torch.float64  # float64 prompts stay float64
    g = torch.Generator().manual_seed(1)
    W = torch.randn(1, 2, n, n, generator=g, dtype=torch.float64)  # O(1) weights: non-uniform attention
    idx = torch.randperm(30, generator=g)[:B] if use_index else torch.arange(4, 4 + B)
    G = torch.empty_like(W)
    batch_grads(model, data, idx.unsqueeze(0), W, G, kernel=kernel)

    Wr = W[0].clone().requires_grad_(True)
    X, q, t = _t(b.X)[idx], _t(b.x_query)[idx], _t(b.x_target)[idx]
    loss = (attention(model, X, q, Wr[0], Wr[1]) - t).square().mean()
    (ref,) = torch.autograd.grad(loss, Wr)
    assert ref.abs().max() > 1e-3  # a non-trivial gradient
    assert torch.allclose(G[0], ref, rtol=1e-10, atol=1e-12), (G[0] - ref).abs().max()
    # W is untouched by the gradient computation
    assert torch.equal(W[0], Wr.detach())
    # and the per-prompt MSE of the same kernel equals the model's forward pass
    mse = per_prompt_mse(model, data, W, kernel=kernel)
    assert mse.shape == (1, 30)
    ref_mse = _per_prompt(model, b, W[0, 0], W[0, 1])
    np.testing.assert_allclose(mse[0], ref_mse.numpy(), rtol=1e-10)


@pytest.mark.parametrize("model", ["linear", "softmax"])
def test_hand_written_grads_equal_the_autograd_path_per_member_float64(model):
    """The paper models' hand-written torch gradients equal the trainer's generic path for models without them
    (autograd of the sum over members of each member's batch-mean MSE, through the model's training forward),
    for each member of a 3-member sub-ensemble with its own weights and batch; float64, so rtol 1e-10 as above."""
    n, L, B, A = 5, 9, 7, 3
    b = _as_float64(sample_prompts("sphere", 30, 3, n=n, L=L, d=2, R=1.0, sigma_z2=0.1))
    data = _Split([b] * A, model, torch.device("cpu"), np.float64, False, batch_rows=A * B)
    g = torch.Generator().manual_seed(2)
    W = torch.randn(A, 2 * n * n, generator=g, dtype=torch.float64)  # the trainer's (A, D) layout
    idx = torch.stack([torch.randperm(30, generator=g)[:B] for _ in range(A)])
    hand = type(models.get(model))()
    auto = type("Autograd", (type(hand),), {"torch_grads": Model.torch_grads})()
    G_hand, G_auto = torch.empty_like(W), torch.empty_like(W)
    loss_hand = batch_grads(hand, data, idx, W, G_hand)
    loss_auto = batch_grads(auto, data, idx, W, G_auto)
    assert G_hand.abs().max() > 1e-3 and not torch.allclose(G_hand[0], G_hand[1])
    assert torch.allclose(G_auto, G_hand, rtol=1e-10, atol=1e-12), (G_auto - G_hand).abs().max()
    assert torch.allclose(loss_auto, loss_hand, rtol=1e-12)
    # member 1 alone gets the same gradient: members do not mix
    G1 = torch.empty(1, 2 * n * n, dtype=torch.float64)
    batch_grads(auto, _Split([b], model, torch.device("cpu"), np.float64, False, B), idx[1:2], W[1:2], G1)
    assert torch.allclose(G1[0], G_hand[1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("model,kernel", _model_kernels())
def test_batch_grads_float32_close_to_float64_autograd(model, kernel):
    """float32 gradients (and the fused kernel's polynomial exp) within float32 accuracy of float64 autograd.

    Each gradient entry is a sum over B = 16 prompts of sums over L = 20 tokens of O(1) terms with
    float32 rounding (2^-24 ~ 6e-8 each, and ~2 ulp for the fused exp): a few hundred roundings give a
    relative error of order 1e-6; rtol 1e-4 (atol 1e-6 of the largest entry for entries near 0) leaves
    a margin of ~100 while a wrong term would be off by O(1).
    """
    n, L, B = 6, 20, 16
    b = sample_prompts("gmm", B, 4, n=n, L=L, p=3, R=1.0, sigma0_2=0.02, sigma_z2=0.1)
    data = _split(b, model, kernel, batch_rows=B)
    W = torch.stack(init_weights(n, torch.Generator().manual_seed(0))).unsqueeze(0)
    W = W * 4  # larger than init: attention far from uniform, so the softmax matters
    G = torch.empty_like(W)
    batch_grads(model, data, torch.arange(B).unsqueeze(0), W, G, kernel=kernel)
    Wr = W[0].double().requires_grad_(True)
    loss = (attention(model, _t(b.X), _t(b.x_query), Wr[0], Wr[1]) - _t(b.x_target)).square().mean()
    (ref,) = torch.autograd.grad(loss, Wr)
    assert torch.allclose(G[0].double(), ref, rtol=1e-4, atol=1e-6 * ref.abs().max().item())
    mse = per_prompt_mse(model, data, W, kernel=kernel)[0]
    ref_mse = _per_prompt(model, b, W[0, 0], W[0, 1]).numpy()
    np.testing.assert_allclose(mse, ref_mse, rtol=1e-5)


# ----------------------------------------------------------------------------- Adam


@pytest.mark.parametrize(
    "fused", [False, pytest.param(True, marks=pytest.mark.skipif(not kernels.available(), reason="no numba"))]
)
@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_adam_matches_torch_optim_adam_step_by_step(dtype, rtol, fused):
    g = torch.Generator().manual_seed(0)
    W0 = torch.randn(2, 4, 4, generator=g, dtype=dtype)
    grads = [torch.randn(2, 4, 4, generator=g, dtype=dtype) * 10 ** (k % 3 - 1) for k in range(20)]
    mine = W0.clone()
    opt = Adam(mine, lr=1e-2, fused=fused)
    ref = W0.clone().requires_grad_(True)
    topt = torch.optim.Adam([ref], lr=1e-2)
    for k, G in enumerate(grads):
        if k == 12:  # a MultiStepLR-like decay in the middle
            opt.lr *= 0.1
            topt.param_groups[0]["lr"] *= 0.1
        opt.step(G)
        ref.grad = G.clone()
        topt.step()
        assert torch.allclose(mine, ref.detach(), rtol=rtol, atol=rtol * 1e-2), (k, (mine - ref).abs().max())
    # the optimiser moved the weights: a bias-corrected Adam step is ~lr per entry
    assert (mine - W0).abs().max() > 0.05


# ----------------------------------------------------------------------------- config, schedule


def test_milestone_epochs():
    assert TrainConfig(model="linear", epochs=100).milestone_epochs() == [80, 90]
    assert TrainConfig(model="softmax", epochs=200).milestone_epochs() == [160, 180]
    assert TrainConfig(model="linear", epochs=10, lr_milestones=()).milestone_epochs() == []
    # like MultiStepLR, a repeated milestone decays twice
    assert TrainConfig(model="linear", epochs=5).milestone_epochs() == [4, 4]


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(model="mlp", epochs=1), "model must be one of"),
        (dict(model="linear", epochs=0), "epochs must be >= 1"),
        (dict(model="linear", epochs=1, batch_size=0), "batch_size must be >= 1"),
        (dict(model="linear", epochs=1, lr=0.0), "lr must be > 0"),
        (dict(model="linear", epochs=1, lr_milestones=(0.0,)), "lr_milestones"),
        (dict(model="linear", epochs=1, lr_milestones=(1.5,)), "lr_milestones"),
    ],
)
def test_train_config_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kw)


def test_lr_per_epoch_follows_multisteplr():
    """lr[e] is the lr used during epoch e: 1e-2 up to epoch 80, 1e-3 for 81..90, 1e-4 after (MultiStepLR)."""
    b = sample_prompts("subspace", 20, 0, n=4, L=5, d=2, sigma0_2=2.0, sigma_z2=1.0)
    r = train(b, b, TrainConfig(model="linear", epochs=100, batch_size=20))
    assert r.lr.shape == (101,) and r.train_mse.shape == (101,)
    # reference: torch's MultiStepLR stepped once per epoch
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([p], lr=1e-2)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[80, 90], gamma=0.1)
    ref = []
    for _ in range(100):
        ref.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    np.testing.assert_allclose(r.lr[1:], ref, rtol=1e-12)
    assert r.lr[0] == 1e-2 and r.lr[80] == 1e-2
    assert r.lr[81] == pytest.approx(1e-3) and r.lr[90] == pytest.approx(1e-3) and r.lr[91] == pytest.approx(1e-4)


# ----------------------------------------------------------------------------- reproducibility, bookkeeping


@pytest.fixture(scope="module")
def small_sets():
    tr = sample_prompts("sphere", 60, 10, n=6, L=12, **SPH)
    te = sample_prompts("sphere", 150, 11, n=6, L=12, **SPH)
    return tr, te


@pytest.mark.parametrize("model", ["linear", "softmax"])
def test_same_seed_identical_different_seed_differs(small_sets, model):
    tr, te = small_sets
    cfg = TrainConfig(model=model, epochs=4, batch_size=16, seed=3)
    a, b = train(tr, te, cfg), train(tr, te, cfg)
    c = train(tr, te, dataclasses.replace(cfg, seed=4))
    for name in ("train_mse", "test_mse", "alpha", "beta", "lr", "W_KQ", "W_PV"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert not np.array_equal(a.W_KQ, c.W_KQ) and not np.array_equal(a.test_mse, c.test_mse)
    assert a.info == b.info and a.device == "cpu"


@pytest.mark.parametrize("model", ["linear", "softmax"])
def test_recorded_curves_are_exact_per_prompt_means(small_sets, model):
    """Epoch 0 = the seed's init weights; the last entry = final weights; means over every prompt of the split.

    The test split (150 prompts) is not a multiple of eval_chunk (100): a batch-mean average would differ.
    """
    tr, te = small_sets
    cfg = TrainConfig(model=model, epochs=3, batch_size=16, seed=7)
    r = train(tr, te, cfg)
    W0 = init_weights(6, torch.Generator().manual_seed(7))
    for split, curve in ((tr, r.train_mse), (te, r.test_mse)):
        assert curve[0] == pytest.approx(_per_prompt(model, split, *W0).mean().item(), rel=1e-5)
        assert curve[-1] == pytest.approx(_per_prompt(model, split, r.W_KQ, r.W_PV).mean().item(), rel=1e-5)
    assert r.alpha[-1] == pytest.approx(np.diag(r.W_PV).mean(), rel=1e-6)
    assert r.beta[-1] == pytest.approx(np.diag(r.W_KQ).mean(), rel=1e-6)
    assert r.info["alpha"] == pytest.approx(r.alpha[-1], rel=1e-6)
    # per_prompt_mse, chunked, agrees with the unchunked computation
    d = _split(te, model)
    W = torch.from_numpy(np.stack([r.W_KQ, r.W_PV])).float().unsqueeze(0)
    pp = torch.from_numpy(per_prompt_mse(model, d, W, chunk=64)[0])
    assert pp.shape == (150,)
    assert torch.allclose(pp, _per_prompt(model, te, r.W_KQ, r.W_PV), rtol=1e-4, atol=1e-7)


# ----------------------------------------------------------------------------- learning


def test_linear_attention_learns_the_finite_L_optimum():
    """Case 1 (n = 8, d = 4, L = 100): the trained model approaches γ*(L) S x̃, the finite-L optimum.

    Compared on the same 2000 held-out prompts (paired, so the prompt-to-prompt spread cancels):
    trained MSE / MSE of γ*(L)·S x̃ must lie in [1 − 4 SE, 1.04] (1600 training prompts for 128
    parameters overfit by ~2%); it must be above the Bayes oracle on the same prompts (Prop. 1) and
    the learned αβ within 5% of γ*(L) = 0.3175, with both matrices near scaled identities.
    """
    n, L = 8, 100
    tr = sample_prompts("subspace", 1600, 21, n=n, L=L, **SUB)
    te = sample_prompts("subspace", 2000, 22, n=n, L=L, **SUB)
    r = train(tr, te, TrainConfig(model="linear", epochs=40, batch_size=160, seed=0))
    trained = _per_prompt("linear", te, r.W_KQ, r.W_PV)
    assert r.test_mse[-1] == pytest.approx(trained.mean().item(), rel=1e-5)

    g_star = linear_attention_gamma_star(L, SUB["d"], SUB["sigma0_2"], SUB["sigma_z2"])
    Wk, Wp = scaled_identity_weights(n, 1.0, g_star, dtype=torch.float64)
    opt = _per_prompt("linear", te, Wk, Wp)
    theory = linear_attention_finite_L_mse(L, n, SUB["d"], SUB["sigma0_2"], SUB["sigma_z2"])
    assert opt.mean().item() == pytest.approx(theory, abs=5 * opt.std().item() / math.sqrt(len(opt)))

    diff = trained - opt
    se_ratio = diff.std().item() / math.sqrt(len(diff)) / opt.mean().item()
    ratio = trained.mean().item() / opt.mean().item()
    assert 1 - 4 * se_ratio < ratio < 1.04, (ratio, se_ratio)

    bayes = torch.from_numpy(
        mse_per_component(bayes_optimal_subspace(te.x_query, te.task["basis"], 2.0, 1.0), te.x_target)
    )
    assert (trained - bayes).mean() > 4 * (trained - bayes).std() / math.sqrt(len(bayes))
    assert r.test_mse[-1] > bayes_mse_subspace(n, SUB["d"], SUB["sigma0_2"], SUB["sigma_z2"])
    # far below the zero predictor dσ0²/n = 1
    assert r.test_mse[-1] < 0.4 and r.test_mse[0] > 0.9

    ab = r.alpha[-1] * r.beta[-1]
    assert ab == pytest.approx(g_star, rel=0.05)
    assert r.info["dist_KQ"] < 0.2 and r.info["dist_PV"] < 0.2


def test_softmax_attention_learns_on_spheres():
    """Case 2 (n = 8, S^3, L = 50): test MSE drops from ~R²/n = 0.125 at init to well under half of it.

    lr = 0.05 so that 200 Adam steps reach β of a few (each step moves a weight by at most ~lr).
    """
    n = 8
    tr = sample_prompts("sphere", 200, 31, n=n, L=50, **SPH)
    te = sample_prompts("sphere", 200, 32, n=n, L=50, **SPH)
    r = train(tr, te, TrainConfig(model="softmax", epochs=20, batch_size=20, lr=0.05, seed=0))
    assert r.test_mse[0] == pytest.approx(1 / n, rel=0.1)
    assert r.test_mse[-1] < 0.5 * r.test_mse[0]
    assert r.train_mse[-1] < r.train_mse[0]
    bayes = mse_per_component(bayes_optimal_sphere(te.x_query, te.task["basis"], 1.0, 0.1), te.x_target)
    assert r.test_mse[-1] > bayes.mean()  # Prop. 1
    assert r.alpha[-1] * r.beta[-1] > 0  # α, β share a sign (the (−α, −β) symmetry)


# ----------------------------------------------------------------------------- failures


def test_huge_lr_raises_training_diverged_with_context():
    b = sample_prompts("subspace", 40, 0, n=6, L=10, d=3, sigma0_2=2.0, sigma_z2=1.0)
    with pytest.raises(TrainingDiverged) as info:
        train(b, b, TrainConfig(model="linear", epochs=3, batch_size=10, lr=1e12, seed=5))
    msg = str(info.value)
    assert "diverged" in msg and "linear" in msg and "seed=5" in msg
    assert re.search(r"lr=1(e\+12|000000000000\.0)", msg), msg
    assert isinstance(info.value, RuntimeError)


def test_huge_lr_softmax_is_flagged_as_diverged():
    b = sample_prompts("sphere", 40, 0, n=6, L=10, **SPH)
    with pytest.raises(TrainingDiverged):
        train(b, b, TrainConfig(model="softmax", epochs=3, batch_size=10, lr=1e12, seed=5))


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here, so asking for it is not an error")
@pytest.mark.parametrize("dev", ["cuda", "cuda:0"])
def test_resolve_device_cuda_without_cuda_is_a_clear_error(dev):
    with pytest.raises(RuntimeError, match=r"CUDA is not available"):
        resolve_device(dev)


def test_batch_size_larger_than_training_set_is_rejected():
    b = sample_prompts("subspace", 30, 0, n=6, L=5, d=2, sigma0_2=2.0, sigma_z2=1.0)
    with pytest.raises(ValueError, match=r"batch_size=31 is larger than the training set \(30 prompts\)"):
        train(b, b, TrainConfig(model="linear", epochs=1, batch_size=31))
    train(b, b, TrainConfig(model="linear", epochs=1, batch_size=30))  # equal size is fine


def test_threads_option_sets_torch_threads():
    before = torch.get_num_threads()
    b = sample_prompts("subspace", 20, 0, n=4, L=5, d=2, sigma0_2=2.0, sigma_z2=1.0)
    try:
        torch.set_num_threads(2)
        train(b, b, TrainConfig(model="linear", epochs=1, batch_size=10, threads=1))
        assert torch.get_num_threads() == 1
        train(b, b, TrainConfig(model="linear", epochs=1, batch_size=10, threads=2))
        assert torch.get_num_threads() == 2
        train(b, b, TrainConfig(model="linear", epochs=1, batch_size=10))  # threads=None leaves it alone
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
