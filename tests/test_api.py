"""The Python API importable from ``icdenoise`` (issue 15): lazy, documented, defaults from the config."""

from __future__ import annotations

import inspect
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
