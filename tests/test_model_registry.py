"""The model registry (icdenoise.models) and its interface: every name list follows it, the paper models keep their
weights' layout and draws, and a model with neither hand-written gradients nor fused kernels (linear attention with
a learned residual λ x̃) trains through autograd on the torch path.

Tiny problems (n <= 6, L <= 12): the file takes seconds.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from icdenoise import kernels, models
from icdenoise.denoisers.base import Model, Param, uniform
from icdenoise.denoisers.linear_residual import ResidualLinearAttention
from icdenoise.models import attention, init_weights, linear_attention
from icdenoise.studies.common import initial_weights, model_mse
from icdenoise.tasks import sample_prompts
from icdenoise.train import Member, TrainConfig, train, train_ensemble

REPO = Path(__file__).resolve().parents[1]
SUB = dict(d=3, sigma0_2=2.0, sigma_z2=1.0)


def _sets(n_train=48, n_test=24, seed=0, n=6, L=12, dtype=None):
    b = sample_prompts("subspace", n_train + n_test, seed, n=n, L=L, **SUB)
    if dtype is not None:
        b = dataclasses.replace(
            b, X=b.X.astype(dtype), x_query=b.x_query.astype(dtype), x_target=b.x_target.astype(dtype)
        )
    return b.subset(slice(0, n_train)), b.subset(slice(n_train, None))


# ----------------------------------------------------------------------------- name lists


def test_every_model_list_is_the_registry():
    """api.MODEL_NAMES, the CLI's --model choices, the config schema's enum and TrainConfig all follow the registry."""
    from icdenoise.api import MODEL_NAMES
    from icdenoise.cli import build_parser

    assert models.MODELS == tuple(models.REGISTRY) and "linear_residual" in models.MODELS
    assert set(models.PAPER_MODELS) <= set(models.MODELS)
    assert tuple(MODEL_NAMES) == models.MODELS
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    assert tuple(schema["definitions"]["model_list"]["items"]["enum"]) == models.MODELS
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    train_cmd = build_parser(cfg)._subparsers._group_actions[0].choices["train"]
    (model_opt,) = [a for a in train_cmd._actions if a.dest == "model"]
    assert tuple(model_opt.choices) == models.MODELS
    for name in models.MODELS:
        assert TrainConfig(model=name, epochs=1).model == name
        assert models.get(name).name == name and models.get(name) is models.get(name)
    with pytest.raises(ValueError, match="unknown model 'mlp'; allowed: linear, softmax, linear_residual"):
        models.get("mlp")


def test_registry_imports_no_torch():
    code = (
        "import sys, icdenoise.models, icdenoise.api; "
        "assert 'torch' not in sys.modules; print(icdenoise.api.MODEL_NAMES)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "linear_residual" in res.stdout


def test_kernel_choice_fuses_only_models_with_fused_kernels(monkeypatch):
    monkeypatch.delenv(kernels.KERNEL_ENV, raising=False)
    fused = "fused" if kernels.available() else "torch"
    for name in models.MODELS:
        want = fused if models.get(name).fused else "torch"
        assert kernels.kernel_choice("auto", name, "cpu") == want, name
        assert kernels.kernel_choice("fused", name, "cpu") == want, name  # no fused kernel: torch, not an error
        assert kernels.kernel_choice("auto", name, "cuda") == "torch"
    assert models.get("linear_residual").fused is None
    with pytest.raises(ValueError, match="unknown model"):
        kernels.kernel_choice("auto", "mlp", "cpu")


# ----------------------------------------------------------------------------- parameters and layout


@pytest.mark.parametrize("name", models.MODELS)
def test_initial_weights_are_the_paper_draws_in_the_fused_layout(name):
    """W_KQ, W_PV of every model are init_weights' draws bit for bit, and the flat (D,) weights of the paper models
    are the bytes of the (2, n, n) tensor the fused kernels read; extra parameters come after them."""
    m, n = models.get(name), 5
    params = m.init(n, torch.Generator().manual_seed(3))
    W_KQ, W_PV = init_weights(n, torch.Generator().manual_seed(3))
    assert list(params)[:2] == ["W_KQ", "W_PV"]
    # a depth model (default options: one layer) holds its weight sets along a leading axis: here one set
    lead = (1,) if "depth_" in name else ()
    assert params["W_KQ"].shape == (*lead, n, n)
    assert torch.equal(params["W_KQ"].reshape(n, n), W_KQ) and torch.equal(params["W_PV"].reshape(n, n), W_PV)
    flat = m.flatten(params)
    assert flat.shape == (m.size(n),)
    assert torch.equal(flat[: 2 * n * n], torch.stack((W_KQ, W_PV)).reshape(-1))
    views = m.views(flat.unsqueeze(0), n)
    assert all(torch.equal(views[k][0], v) for k, v in params.items())
    views["W_PV"][0].view(-1)[1 * n + 2] = 7.0  # views share the flat memory (entry (1, 2) of W_PV)
    assert flat[n * n + 1 * n + 2] == 7.0
    a, b = initial_weights(n, 3, model=name)
    assert np.array_equal(a.reshape(n, n), W_KQ.numpy()) and np.array_equal(b.reshape(n, n), W_PV.numpy())
    if name in models.PAPER_MODELS:
        assert m.size(n) == 2 * n * n and m.fused == name


def test_residual_model_forward_is_eq11_plus_lambda_query():
    g = torch.Generator().manual_seed(0)
    X, q = torch.randn(4, 9, 5, generator=g, dtype=torch.float64), torch.randn(4, 5, generator=g, dtype=torch.float64)
    W_KQ, W_PV = (torch.randn(5, 5, generator=g, dtype=torch.float64) for _ in range(2))
    want = 0.3 * q + linear_attention(X, q, W_KQ, W_PV)
    got = attention("linear_residual", X, q, W_KQ, W_PV, lam=torch.tensor(0.3, dtype=torch.float64))
    assert torch.allclose(got, want, rtol=1e-12, atol=1e-12)
    assert not torch.allclose(got, linear_attention(X, q, W_KQ, W_PV), atol=1e-3)
    with pytest.raises(ValueError, match="needs the parameters lam"):
        attention("linear_residual", X, q, W_KQ, W_PV)
    # studies' model_mse goes through the same forward, in float32, with the parameters by name
    t = torch.randn(4, 5, generator=g, dtype=torch.float64)
    mse = model_mse("linear_residual", X.numpy(), q.numpy(), t.numpy(), params=dict(W_KQ=W_KQ, W_PV=W_PV, lam=0.3))
    np.testing.assert_allclose(mse, (want - t).square().mean(-1).numpy(), rtol=1e-4)
    lin = model_mse("linear", X.numpy(), q.numpy(), t.numpy(), W_KQ.numpy(), W_PV.numpy())
    np.testing.assert_allclose(lin, (linear_attention(X, q, W_KQ, W_PV) - t).square().mean(-1).numpy(), rtol=1e-4)


# ----------------------------------------------------------------------------- the autograd model trains


def test_residual_model_trains_by_autograd_and_its_loss_falls():
    tr, te = _sets()
    cfg = TrainConfig(model="linear_residual", epochs=6, batch_size=12, lr=3e-2, seed=4)
    r = train(tr, te, cfg)
    assert r.kernel == "torch" and r.model == "linear_residual"  # no fused kernel: the torch path, also on the CPU
    assert r.train_mse[-1] < 0.8 * r.train_mse[0] and r.test_mse[-1] < r.test_mse[0]
    assert set(r.params) == {"W_KQ", "W_PV", "lam"} and r.params["lam"].shape == ()
    assert r.params["lam"] != 0.0  # λ is trained (it starts at 0)
    assert r.info["lam"] == float(r.params["lam"]) and {"alpha", "beta", "dist_KQ", "dist_PV"} <= set(r.info)
    assert r.alpha[-1] == pytest.approx(np.diag(r.W_PV).mean(), rel=1e-6)
    arrays = r.arrays()
    curves = ["train_mse", "test_mse", "alpha", "beta", "lr", "train_mse_batch_avg"]
    assert list(arrays) == [*curves, "W_KQ", "W_PV", "lam"]
    # the recorded test MSE is the model's own forward pass on the final parameters
    pred = attention("linear_residual", torch.from_numpy(te.X).double(), torch.from_numpy(te.x_query).double(),
                     **{k: torch.from_numpy(v) for k, v in r.params.items()})  # fmt: skip
    mse = (pred - torch.from_numpy(te.x_target).double()).square().mean(-1).mean().item()
    assert r.test_mse[-1] == pytest.approx(mse, rel=1e-5)
    # an ensemble mixing it with the paper's linear model: each member equals its solo run
    lin = TrainConfig(model="linear", epochs=3, batch_size=12, seed=5)
    ens = train_ensemble([Member(tr, te, cfg), Member(tr, te, lin)])
    assert [e.kernel for e in ens] == ["torch", "fused" if kernels.available() else "torch"]
    for e, c in zip(ens, (cfg, lin), strict=True):
        solo = train(tr, te, c)
        for k in ("train_mse", "test_mse", "alpha", "beta"):
            np.testing.assert_allclose(getattr(e, k), getattr(solo, k), rtol=2e-5, err_msg=k)


@pytest.fixture
def frozen_residual(monkeypatch):
    """linear_residual with λ held at 0, registered for this test only."""
    monkeypatch.setitem(models.REGISTRY, "linear_residual_lam0", ResidualLinearAttention(frozen=("lam",)))
    return "linear_residual_lam0"


def test_residual_model_with_lambda_frozen_at_0_is_linear_attention(frozen_residual):
    """λ ≡ 0: Eq. 11 itself. Trained by autograd (float64), it follows the linear model's hand-written torch path:
    the same initial weights (bit for bit), epoch-0 curves, and every epoch's curves and weights to rounding."""
    tr, te = _sets(dtype=np.float64)
    kw = dict(epochs=3, batch_size=12, lr=3e-2, seed=9)
    res = train(tr, te, TrainConfig(model=frozen_residual, **kw))
    lin = train(tr, te, TrainConfig(model="linear", **kw), kernel="torch")
    assert res.params["lam"] == 0.0  # zero gradient: Adam never moves it
    assert res.alpha[0] == lin.alpha[0] and res.beta[0] == lin.beta[0]
    for k in ("train_mse", "test_mse", "alpha", "beta", "train_mse_batch_avg", "W_KQ", "W_PV"):
        np.testing.assert_allclose(getattr(res, k), getattr(lin, k), rtol=1e-10, atol=1e-13, err_msg=k)
    # and not by accident: the trainable λ leaves Eq. 11 after one epoch
    free = train(tr, te, TrainConfig(model="linear_residual", **kw))
    assert not np.allclose(free.W_KQ, lin.W_KQ, rtol=1e-6)


class _ScaledQuery(Model):
    """A model defined outside the package: x̂ = c ⊙ x̃ (per-component gain, init U[-1/√n, 1/√n]); no α, β."""

    name = "scaled_query"
    params = (Param("c", lambda n: (n,), uniform),)

    def forward(self, ctx, q, p):
        return q * p["c"].unsqueeze(1)


def test_a_model_needs_only_its_class_and_a_registry_entry(monkeypatch):
    monkeypatch.setitem(models.REGISTRY, "scaled_query", _ScaledQuery())
    tr, te = _sets()
    r = train(tr, te, TrainConfig(model="scaled_query", epochs=4, batch_size=12, lr=5e-2, seed=1))
    assert r.train_mse[-1] < r.train_mse[0] and list(r.params) == ["c"] and r.params["c"].shape == (6,)
    assert np.isnan(r.alpha).all() and np.isnan(r.beta).all() and r.info == {}  # no α, β read-out: NaN curves
    with pytest.raises(AttributeError, match="has no parameter W_KQ"):
        r.W_KQ  # noqa: B018


@pytest.mark.parametrize("name", models.PAPER_MODELS)
def test_the_autograd_path_trains_the_paper_models_as_their_hand_written_gradients(name, monkeypatch):
    """A paper model without its hand-written gradient (the base Model's autograd on its own training forward)
    trains the same run on the torch path: float64, every curve and weight to rounding."""
    cls = type(models.get(name))
    monkeypatch.setitem(models.REGISTRY, "autograd", type("Autograd", (cls,), {"torch_grads": Model.torch_grads})())
    tr, te = _sets(dtype=np.float64)
    kw = dict(epochs=3, batch_size=12, lr=3e-2, seed=2)
    auto = train(tr, te, TrainConfig(model="autograd", **kw), kernel="torch")
    hand = train(tr, te, TrainConfig(model=name, **kw), kernel="torch")
    assert not np.array_equal(auto.W_KQ, init_weights(6, torch.Generator().manual_seed(2))[0].numpy())
    for k in ("train_mse", "test_mse", "alpha", "beta", "train_mse_batch_avg", "W_KQ", "W_PV"):
        np.testing.assert_allclose(getattr(auto, k), getattr(hand, k), rtol=1e-10, atol=1e-13, err_msg=k)
