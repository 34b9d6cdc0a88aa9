"""The paper's settings (icdenoise.paper.PAPER_SCALE) against the paper's text, where the paper states them; and
that they are not a user setting (no config holds them, and they cannot be edited in place)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from icdenoise.paper import PAPER_SCALE
from workflow_utils import PAPER_CONFIG, REPO, SMOKE_CONFIG

TEXT = REPO.parent / "shared" / "paper" / "in-context-denoising-icml2025.txt"


@pytest.fixture(scope="module")
def paper() -> str:
    """The paper's text with whitespace collapsed (the PDF extraction breaks σ2 / Z = 1 across lines)."""
    path = TEXT if TEXT.exists() else Path("/work/shared/paper/in-context-denoising-icml2025.txt")
    return re.sub(r"\s+", " ", path.read_text(encoding="utf-8"))


def test_paper_scale_equals_the_papers_quoted_numbers(paper):
    p, cases = PAPER_SCALE, PAPER_SCALE["cases"]
    # Figure 3's caption: every case
    assert (
        f"context length of L = {p['L']}, ambient dimension n = {p['n']}, and are trained with Adam on a dataset of "
        f"size {p['n_train']} with batch size {p['train']['batch_size']}" in paper
    )
    # §3.2, case 1: sigma_z2 = 1, sigma0_2 = 2, d = 8, L = 500
    sub = cases["subspace"]
    assert f"Z = {sub['sigma_z2']:g}, σ2 0 = {sub['sigma0_2']:g}, d = {sub['d']}, L = {p['L']}" in paper
    # §3.3, case 2: subspheres of dimension d = 8 and radius R = 1, sigma_z2 = 0.1
    sph = cases["sphere"]
    assert (
        f"subspheres of dimension d = {sph['d']} and radius R = {sph['R']:g}, with corruption σ2 Z = {sph['sigma_z2']}"
        in paper
    )
    # §3.4, case 3: p = 8 components, sigma0_2 = 0.02, centres on the unit sphere, sigma_z2 = 0.1
    g = cases["gmm"]
    assert f"p = {g['p']} compo- nents that have isotropic variance σ2 0 = {g['sigma0_2']}" in paper
    assert "randomly placed on the unit sphere" in paper and g["R"] == 1.0
    assert f"magnitude is σ2 Z = {g['sigma_z2']} and context length is L = {p['L']}" in paper


def test_paper_scale_is_not_a_setting():
    for path in (PAPER_CONFIG, SMOKE_CONFIG):
        assert "paper_scale" not in (yaml.safe_load(path.read_text()).get("claims") or {}), path
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    assert "paper_scale" not in schema["properties"]["claims"]["properties"]
    with pytest.raises(TypeError):
        PAPER_SCALE["cases"]["subspace"]["d"] = 999
    with pytest.raises(TypeError):
        PAPER_SCALE["n"] = 8


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("claims.paper_scale", {"n": 16, "cases": {"subspace": {"sigma_z2": -1.0}}}, "claims.paper_scale"),
        ("claims.tolerances.seed_rate.value", 1.5, "claims.tolerances.seed_rate.value"),
        ("claims.tolerances.seed_rate.value", 0, "claims.tolerances.seed_rate.value"),
        ("claims.tolerances.valley.value", -0.01, "claims.tolerances.valley.value"),
    ],
)
def test_a_bad_claims_value_names_its_key(key, value, named):
    """The issue's mutated configs: a paper_scale block is refused (the paper's facts live in code), and a bad
    tolerance names its key."""
    import copy

    from icdenoise.config import ConfigError, check_config

    cfg = copy.deepcopy(yaml.safe_load(PAPER_CONFIG.read_text()))
    node = cfg
    *parents, last = key.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value
    with pytest.raises(ConfigError) as info:
        check_config(cfg, REPO / "workflow" / "schemas" / "config.schema.yaml")
    assert f"config key '{named}'" in str(info.value), str(info.value)
    if "paper_scale" in key:
        assert "paper_scale" in str(info.value)
