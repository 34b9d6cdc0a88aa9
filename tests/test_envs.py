"""Every rule has a pinned conda-forge env that provides what its script imports."""

from __future__ import annotations

import re

import pytest
import yaml

from workflow_utils import REPO

# import name -> conda-forge package name
CONDA_NAME = {"torch": "pytorch", "matplotlib": "matplotlib-base", "yaml": "pyyaml"}


def _rules():
    """(rule name, its conda env path or None) for every rule in the workflow files."""
    out = []
    for smk in [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]:
        text = smk.read_text()
        blocks = re.split(r"^(?=rule \w+:)", text, flags=re.M)
        for block in blocks:
            m = re.match(r"rule (\w+):", block)
            if not m:
                continue
            env = re.search(r"^\s+conda:\s*\n\s+\"([^\"]+)\"", block, re.M)
            path = (smk.parent / env.group(1)).resolve() if env else None
            runs_code = re.search(r"^\s+(script|shell|run|notebook|wrapper):", block, re.M) is not None
            out.append((m.group(1), path if runs_code else "target only"))
    return out


def _env_packages(path):
    spec = yaml.safe_load(path.read_text())
    deps = [d for d in spec["dependencies"] if isinstance(d, str)]
    return spec, {re.split(r"[=<>!]", d)[0]: d for d in deps}


FIG3_RULES = {"sample_prompts", "train", "evaluate_baselines", "gather_training_dynamics", "plot_training_dynamics"}


def test_every_rule_that_runs_code_has_a_conda_env():
    """Rules that only collect targets (all, gap_study) run no code and need no env; every other one has one."""
    rules = dict(_rules())
    assert "train" in rules and "plot_training_dynamics" in rules
    assert rules["all"] == "target only" and rules["gap_study"] == "target only"
    missing = [r for r, env in rules.items() if env is None]
    assert not missing, f"rules without conda: {missing}"
    for rule, env in rules.items():
        if env not in (None, "target only"):
            assert env.exists(), f"rule {rule}: env file {env} missing"


@pytest.mark.parametrize("env_file", sorted((REPO / "envs").glob("*.yaml")), ids=lambda p: p.name)
def test_env_file_is_pinned_conda_forge(env_file):
    spec, pkgs = _env_packages(env_file)
    assert spec.get("channels", [])[0] == "conda-forge"
    assert "defaults" not in spec["channels"]
    assert "python" in pkgs
    for dep in pkgs.values():
        assert re.fullmatch(r"[\w.-]+=[\w.]+", dep), f"{env_file.name}: {dep!r} is not pinned as name=version"


@pytest.mark.slow
def test_envs_provide_what_each_rule_imported(smoke_run):
    """The smoke run recorded every tracked package each rule's job imported; its env must list them."""
    rules = dict(_rules())
    recorded = sorted((smoke_run / "imports").glob("*.txt"))
    assert {p.stem for p in recorded} >= FIG3_RULES
    for rec in recorded:
        rule = rec.stem
        used = set(rec.read_text().split())
        _, pkgs = _env_packages(rules[rule])
        missing = sorted(m for m in used if CONDA_NAME.get(m, m) not in pkgs)
        assert not missing, f"rule {rule} imports {missing} but {rules[rule].name} does not list them"
    # the sampling job must stay torch-free (that is what keeps it fast)
    assert "torch" not in (smoke_run / "imports" / "sample_prompts.txt").read_text()
