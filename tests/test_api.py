"""The Python API importable from ``icdenoise`` (issue 15): lazy, documented, defaults from the config."""

from __future__ import annotations

import functools
import inspect
import operator
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import icdenoise

SRC = Path(__file__).resolve().parents[1] / "src"
CITES = re.compile(r"Eq\.|Eqs\.|Prop\.|Props\.|§|Fig\.|Lemma")
#: Plumbing, not science: no equation to cite.
UTILITIES = {"derive_seed", "load_config"}


def test_import_is_cheap_and_lazy():
    code = (
        "import sys, icdenoise; heavy = {'torch', 'numpy', 'scipy', 'pandas'} & set(sys.modules); "
        "assert not heavy, heavy; icdenoise.bayes_mse_subspace; assert 'torch' not in sys.modules"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr


def test_every_export_resolves_and_functions_cite_the_paper():
    for name in icdenoise.__all__:
        obj = getattr(icdenoise, name)
        if name in UTILITIES:
            assert obj.__doc__
        elif inspect.isfunction(obj) or (inspect.isclass(obj) and not issubclass(obj, Exception)):
            assert obj.__doc__ and CITES.search(obj.__doc__), f"{name}: docstring cites no equation/proposition"
    with pytest.raises(AttributeError):
        icdenoise.no_such_name  # noqa: B018
    assert "train_case" in dir(icdenoise)


def test_model_names_match_models_module():
    from icdenoise.api import MODEL_NAMES
    from icdenoise.models import MODELS

    assert tuple(MODEL_NAMES) == tuple(MODELS)


def test_paper_settings_come_from_the_config_and_are_validated():
    cfg = icdenoise.load_config()
    s = icdenoise.paper_settings("gmm")
    assert (s["n"], s["L"], s["p"], s["sigma0_2"]) == (
        cfg["n"],
        cfg["L"],
        cfg["cases"]["gmm"]["p"],
        cfg["cases"]["gmm"]["sigma0_2"],
    )
    assert s["epochs"] == cfg["cases"]["gmm"]["epochs"] and s["lr"] == cfg["train"]["lr"]
    assert icdenoise.paper_settings("sphere", sigma_z2=0.3)["sigma_z2"] == 0.3
    with pytest.raises(icdenoise.SettingsError, match=r"^d = 16 must be < n = 16"):
        icdenoise.paper_settings("subspace", d=16)
    with pytest.raises(icdenoise.SettingsError, match="does not apply to case sphere"):
        icdenoise.paper_settings("sphere", p=3)
    with pytest.raises(icdenoise.SettingsError, match="unknown"):
        icdenoise.paper_settings("torus")


def test_prompts_oracles_and_models():
    batch = icdenoise.sample_prompts("subspace", 200, seed=1, L=30)
    assert batch.X.shape == (200, 30, 16) and batch.params["d"] == 8
    preds = icdenoise.oracle_predictions("subspace", batch)
    assert set(preds) == {"zero", "bayes", "projection"}
    table = icdenoise.oracle_mses("subspace", prompts=500)
    closed = table[(table.estimator == "bayes") & (table.source == "closed form")]["mse"].item()
    assert closed == pytest.approx(1 / 3)
    model = icdenoise.build_model("linear", alpha=1.0, beta=1 / 3)
    assert model(batch).shape == (200, 16) and model.summary()["dist_KQ"] == 0.0
    init = icdenoise.build_model("softmax", n=16, seed=0)
    assert np.abs(init.W_KQ).max() <= 0.25


# ----------------------------------------------------------------------------------- defaults: the config's, once


def _at(cfg: dict, path: tuple[str, ...]):
    """The config's value at a key path; KeyError where the config has no such key."""
    return functools.reduce(operator.getitem, path, cfg)


def test_every_default_is_the_configs_value_at_its_key():
    """Every setting paper_settings returns, looped over (a default typed into the code again fails here)."""
    from icdenoise.api import GLOBAL_KEYS
    from icdenoise.tasks import CASE_PARAMS, CASES

    cfg = icdenoise.load_config()
    for case in CASES:
        s = icdenoise.paper_settings(case)
        assert set(s) == {"case", *GLOBAL_KEYS, *CASE_PARAMS[case], "epochs"}
        for key, value in s.items():
            if key != "case":
                assert value == _at(cfg, GLOBAL_KEYS.get(key, ("cases", case, key))), (case, key)


def test_every_setting_maps_to_a_key_of_the_config():
    """The option -> config key table names keys config/config.yaml has (a stale key fails here)."""
    from icdenoise.api import CASE_KEYS, GLOBAL_KEYS
    from icdenoise.tasks import CASE_PARAMS

    cfg = icdenoise.load_config()
    for key, path in GLOBAL_KEYS.items():
        _at(cfg, path)  # KeyError names a stale path
        assert not isinstance(_at(cfg, path), dict), (key, path)
    for case, block in cfg["cases"].items():
        assert set(block) == {*CASE_PARAMS[case], "epochs"} and set(block) <= set(CASE_KEYS), case


def test_the_config_given_is_followed_and_the_schema_fills_a_missing_key():
    from icdenoise.api import load_schema

    cfg = icdenoise.load_config()
    cfg["training_dynamics"]["baseline_fresh_prompts"] = 321
    cfg["train"]["lr_gamma"] = 0.5
    s = icdenoise.paper_settings("gmm", cfg)
    assert (s["prompts"], s["lr_gamma"]) == (321, 0.5)
    assert icdenoise.oracle_mses("gmm", config=cfg)["num_prompts"].max() == 321
    del cfg["training_dynamics"]["baseline_fresh_prompts"], cfg["train"]["lr_gamma"]
    props = load_schema()["properties"]
    s = icdenoise.paper_settings("gmm", cfg)
    assert s["prompts"] == props["training_dynamics"]["properties"]["baseline_fresh_prompts"]["default"]
    assert s["lr_gamma"] == props["train"]["properties"]["lr_gamma"]["default"]
    del cfg["n"]
    with pytest.raises(icdenoise.SettingsError, match=r"^n is required but missing"):
        icdenoise.paper_settings("gmm", cfg)


def test_a_bad_key_no_setting_controls_is_named_not_dropped():
    cfg = icdenoise.load_config()
    cfg["train"]["momentum"] = 0.9
    with pytest.raises(icdenoise.SettingsError, match=r"config key 'train.momentum' is unknown") as exc:
        icdenoise.paper_settings("sphere", cfg, style="option")
    assert exc.value.option is None
    cfg = icdenoise.load_config()
    cfg["training_dynamics"]["heatmap_seed"] = -1
    with pytest.raises(icdenoise.SettingsError, match=r"config key 'training_dynamics.heatmap_seed' = -1"):
        icdenoise.paper_settings("subspace", cfg)
    # what the run does not read is not checked against the overrides: another case's d = 8 is not < n = 8
    assert icdenoise.paper_settings("subspace", n=8, d=4)["n"] == 8


def test_a_setting_mapped_to_a_key_the_schema_lacks_is_a_bug_that_surfaces(monkeypatch):
    from icdenoise import api

    monkeypatch.setitem(api.GLOBAL_KEYS, "prompts", ("baselines", "fresh_prompts"))  # the old, stale key
    with pytest.raises(RuntimeError, match=r"icdenoise bug: .*config key 'baselines' is unknown"):
        api.paper_settings("gmm", prompts=1000)
    with pytest.raises(icdenoise.SettingsError, match=r"config key 'baselines.fresh_prompts' is missing"):
        api.paper_settings("gmm")
    monkeypatch.setitem(api.GLOBAL_KEYS, "prompts", ("training_dynamics", "fresh_prompts"))  # an unknown leaf
    with pytest.raises(RuntimeError, match=r"config key 'training_dynamics.fresh_prompts' is unknown"):
        api.paper_settings("gmm", prompts=1000)


def test_train_model_defaults_are_the_configs(monkeypatch):
    from icdenoise import api, train

    seen = {}
    monkeypatch.setattr(train, "train", lambda tr, te, cfg: seen.setdefault("cfg", cfg))
    cfg = icdenoise.load_config()
    api.train_model(None, None, "linear", 2, seed=5)
    got = seen["cfg"]
    assert (got.batch_size, got.lr, got.lr_gamma, got.threads, got.device, got.seed) == (
        cfg["train"]["batch_size"],
        cfg["train"]["lr"],
        cfg["train"]["lr_gamma"],
        cfg["train"]["threads"],
        cfg["device"],
        5,
    )
    assert got.lr_milestones == tuple(cfg["train"]["lr_milestones"])
