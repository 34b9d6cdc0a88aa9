"""The run layer (icdenoise.runs): runs as values, the one seed recipe, and training + recording through one path."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from icdenoise import runs as rl
from icdenoise.io import load_run
from icdenoise.tasks import derive_seed
from workflow_utils import PAPER_CONFIG

SUB = dict(d=2, sigma0_2=2.0, sigma_z2=1.0)


def _config(**over) -> dict:
    """A tiny workflow-shaped config (the keys the planners read)."""
    cfg = dict(
        base_seed=11,
        n=6,
        L=10,
        n_train=24,
        n_test=8,
        dataset="per_seed",
        shared_data_seed=0,
        models=["linear", "softmax"],
        seeds=[0, 1],
        train=dict(batch_size=8, lr=0.01, lr_milestones=[0.8, 0.9], lr_gamma=0.1, threads=1),
        cases=dict(subspace=dict(SUB, epochs=3)),
    )
    cfg.update(over)
    return cfg


def test_training_dynamics_seeds_are_the_documented_recipe():
    """Figure 3: data from ("data", case, data seed), weights from ("train", case, model, seed); shared datasets."""
    for dataset, shared in (("per_seed", 0), ("shared", 5)):
        cfg = _config(dataset=dataset, shared_data_seed=shared)
        runs = rl.plan_runs(cfg, "training_dynamics", case="subspace")
        assert [(r.model, r.seed) for r in runs] == [("linear", 0), ("linear", 1), ("softmax", 0), ("softmax", 1)]
        for r in runs:
            index = shared if dataset == "shared" else r.seed
            assert r.data_index == index and r.data_seed == derive_seed(11, "data", "subspace", index)
            assert r.train_seed == derive_seed(11, "train", "subspace", r.model, r.seed)
        assert runs[0].settings["train"] == dict(batch_size=8, lr=0.01, lr_milestones=[0.8, 0.9], lr_gamma=0.1)


def test_each_legacy_study_keeps_its_seed_parts():
    """The studies that existed before the run layer keep their seeds (their tables stay bit for bit)."""
    cfg = _config(
        context_sweep=dict(models=["linear"], L=[5, 9], seeds=[2]),
        dim_shift=dict(seeds=[3], cases=dict(subspace=dict(L=7, lr_milestones=[]))),
    )
    cs = rl.plan_runs(cfg, "context_sweep", model="linear")
    assert [r.tags["L"] for r in cs] == [5, 9]
    assert cs[1].data_seed == derive_seed(11, "context_sweep_data", 9, 2)
    assert cs[1].train_seed == derive_seed(11, "context_sweep_train", "linear", 9, 2)
    (ds,) = rl.plan_runs(cfg, "dim_shift")
    assert (ds.data_seed, ds.train_seed) == (
        derive_seed(11, "dim_shift_data", "subspace", 3),
        derive_seed(11, "dim_shift_train", "subspace", "linear", 3),
    )
    assert ds.settings["L"] == 7 and ds.settings["train"]["lr_milestones"] == []
    choice = rl.plan_runs(cfg, "dataset_choice")  # per_seed run: the other choice is one shared dataset
    assert {r.data_seed for r in choice} == {derive_seed(11, "data", "subspace", 0)}
    assert [r.train_seed for r in choice] == [derive_seed(11, "train", "subspace", "linear", s) for s in (0, 1)]


def test_gap_study_plan_online_streams_and_nested_pools():
    cfg = _config(gap_study=dict(N=[16, 8], L=10, seeds=[0, 1], online_prompts=16, online_stream="per_seed"))
    runs = rl.plan_runs(cfg, "gap_study", case="subspace", model="linear", L=10)
    finite = [r for r in runs if not r.online]
    online = [r for r in runs if r.online]
    assert [(r.tags["N"], r.seed) for r in finite] == [(8, 0), (8, 1), (16, 0), (16, 1)]
    assert all(r.settings["pool"] == 16 + 8 and r.settings["test_start"] == 16 for r in finite)
    assert {r.data_seed for r in finite if r.seed == 0} == {derive_seed(11, "gap_data", "subspace", 0)}
    assert [r.data_seed for r in online] == [derive_seed(11, "gap_online", "subspace", 10, s) for s in (0, 1)]
    assert [r.seeds["test"] for r in online] == [derive_seed(11, "gap_online_test", "subspace", 10, s) for s in (0, 1)]
    cfg["gap_study"]["online_stream"] = "shared"
    shared = [r for r in rl.plan_runs(cfg, "gap_study", case="subspace", model="linear", L=5) if r.online]
    assert len(shared) == 2 and {r.data_seed for r in shared} == {derive_seed(11, "gap_online", "subspace", 5)}


def test_a_new_study_plans_through_its_own_module_with_the_uniform_recipe(monkeypatch):
    """A new study is one module with wanted_runs: plan_runs finds it by name and derives its seeds (data shared by
    the models of one seed, weights different for every run)."""
    module = types.ModuleType("icdenoise.studies.toy_study")

    def wanted_runs(config, *, case):
        settings = rl.case_settings(config, case)
        return [
            rl.RunSpec("toy_study", case, m, s, settings, tags={"K": k})
            for m in ("linear", "softmax")
            for s in (0, 1)
            for k in (1, 2)
        ]

    module.wanted_runs = wanted_runs
    monkeypatch.setitem(sys.modules, "icdenoise.studies.toy_study", module)
    runs = rl.plan_runs(_config(), "toy_study", case="subspace")
    assert len({r.train_seed for r in runs}) == len(runs) == 8
    by_seed = {}
    for r in runs:
        by_seed.setdefault(r.seed, set()).add(r.data_seed)
    assert all(len(v) == 1 for v in by_seed.values()) and by_seed[0] != by_seed[1]
    assert runs[0].data_seed == derive_seed(11, "toy_study", "data", "subspace", 0)
    assert runs[0].train_seed == derive_seed(11, "toy_study", "train", "subspace", "linear", "K=1", 0)


def test_run_param_round_trip():
    (run,) = rl.plan_runs(_config(models=["softmax"], seeds=[1]), "training_dynamics", case="subspace")
    back = rl.Run.from_param(run.to_param())
    assert back == run and isinstance(back.data_key, tuple)


def test_train_runs_records_writes_and_evaluates_per_chunk(tmp_path):
    """One call trains every run (one ensemble per chunk), writes one file per run in order, and lets the study
    evaluate each chunk before its files are written; each member equals its solo run."""
    cfg = _config(context_sweep=dict(models=["linear", "softmax"], L=[5, 9], seeds=[0, 1]))
    runs = rl.plan_runs(cfg, "context_sweep")
    outs = [str(tmp_path / f"{r.model}_L{r.tags['L']}_s{r.seed}.npz") for r in runs]
    seen = []

    def evaluate(records):
        seen.append(sorted({r.run.tags["L"] for r in records}))
        for rec in records:
            rec.meta["checked"] = rec.run.tags["L"]

    records = rl.train_runs(runs, outs, device="cpu", chunk=lambda r: r.tags["L"], evaluate=evaluate)
    assert seen == [[5], [9]] and [r.run for r in records] == runs
    arrays, meta = load_run(outs[-1])
    assert meta["checked"] == 9 and meta["study"] == "context_sweep" and meta["model"] == "softmax"
    assert meta["train_seed"] == runs[-1].train_seed and meta["ensemble_size"] == 2  # one L's softmax seeds
    assert len(arrays["train_mse"]) == cfg["cases"]["subspace"]["epochs"] + 1
    (solo,) = rl.train_runs([runs[-1]], device="cpu")
    np.testing.assert_array_equal(solo.result.W_KQ, arrays["W_KQ"])
    np.testing.assert_array_equal(solo.result.test_mse, arrays["test_mse"])


def test_train_runs_refuses_a_split_without_test_prompts():
    (run,) = rl.plan_runs(_config(models=["linear"], seeds=[0]), "training_dynamics", case="subspace")
    bad = rl.Run.from_param({**run.to_param(), "settings": {**run.settings, "pool": 24}})
    with pytest.raises(ValueError, match="leaves no test prompts"):
        rl.train_runs([bad], device="cpu")


def test_the_paper_config_plans_the_paper_runs():
    import yaml

    cfg = yaml.safe_load(PAPER_CONFIG.read_text())
    runs = [r for case in cfg["cases"] for r in rl.plan_runs(cfg, "training_dynamics", case=case)]
    assert len(runs) == len(cfg["cases"]) * len(cfg["models"]) * len(cfg["seeds"])
    assert len({r.train_seed for r in runs}) == len(runs)


def test_a_registered_model_beyond_the_paper_trains_through_the_run_layer(tmp_path):
    """linear_residual (Eq. 11 + λ x̃, autograd, no fused kernel) planned and trained like a paper model: its run
    file holds every parameter by name, the loss falls and λ moves; the API's model predicts with λ."""
    from icdenoise.api import train_case

    cfg = _config(models=["linear_residual"], seeds=[0], cases=dict(subspace=dict(SUB, epochs=6)))
    (run,) = rl.plan_runs(cfg, "training_dynamics", case="subspace")
    (rec,) = rl.train_runs([run], [str(tmp_path / "run.npz")], device="cpu")
    arrays, meta = load_run(str(tmp_path / "run.npz"))
    assert {"W_KQ", "W_PV", "lam"} <= set(arrays) and meta["model"] == "linear_residual"
    assert rec.result.kernel == "torch" and arrays["test_mse"][-1] < arrays["test_mse"][0]
    assert float(np.ravel(arrays["lam"])[0]) != 0.0
    got = train_case(
        "subspace", "linear_residual", seeds=[0], epochs=2, L=8, n=6, d=2, n_train=24, n_test=8, batch_size=8
    )
    model = got.models[0]
    assert "lam" in model.extra and np.isfinite(model.mse(rl._Datasets().get(run)).mean())
