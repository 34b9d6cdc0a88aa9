"""Code style and layout: ruff-clean, one name per study through every layer, science free of the workflow."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from workflow_utils import PAPER_CONFIG, REPO

RUFF_PATHS = ["src", "tests", "workflow/scripts", "benchmarks"]
SCIENCE = ("tasks", "models", "bayes", "train", "energy", "landscape")
#: study name -> the paper figure it reproduces (the first docstring line of its modules names it)
STUDIES = {
    "training_dynamics": "Figure 3",
    "context_sweep": "Figure 4a",
    "dim_shift": "Figure 4b",
    "dam_energy": "Figure 5",
    "hopfield_iterations": "Hopfield iterations",
    "alpha_beta_landscape": "Figure 6",
    "gap_study": "Gap study",
    "phase_diagram": "Phase diagram",
}


def _ruff() -> str:
    exe = Path(sys.executable).parent / "ruff"
    found = str(exe) if exe.exists() else shutil.which("ruff")
    assert found, "ruff is part of the test extras (pinned in constraints.txt)"
    return found


@pytest.mark.parametrize("args", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_ruff_clean(args):
    proc = subprocess.run([_ruff(), *args, *RUFF_PATHS], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("study", sorted(STUDIES))
def test_one_name_per_study_in_every_layer(study):
    """Rule file, study module, plotting module, report caption and config section share the study's name."""
    figure = STUDIES[study]
    rules = REPO / "workflow" / "rules" / f"{study}.smk"
    modules = [REPO / "src" / "icdenoise" / sub / f"{study}.py" for sub in ("studies", "plotting")]
    for path in [rules, *modules, REPO / "workflow" / "report" / f"{study}.rst"]:
        assert path.exists(), f"{study}: {path.relative_to(REPO)} is missing"
    assert figure in rules.read_text().splitlines()[0], f"{rules.name}: first line should name {figure}"
    for path in modules:
        first = ast.get_docstring(ast.parse(path.read_text())).splitlines()[0]
        assert first.startswith(figure) and study in first, f"{path}: first docstring line {first!r}"
    assert study in yaml.safe_load(PAPER_CONFIG.read_text()), f"config/config.yaml has no '{study}:' section"
    assert f"`{study}" in (REPO / "config" / "README.md").read_text(), f"config/README.md does not document {study}"
    assert f"report/{study}.rst" in rules.read_text(), f"{rules.name} does not caption its figure with {study}.rst"


def test_rule_all_comment_names_every_figure():
    text = (REPO / "Snakefile").read_text()
    for study, figure in STUDIES.items():
        assert f"{figure} ({study})" in text, f"Snakefile: rule all's comment should say '{figure} ({study})'"


@pytest.mark.parametrize("module", SCIENCE)
def test_science_modules_are_free_of_the_workflow(module):
    """The science imports neither the job plumbing, the studies, nor Snakemake, and names no result path."""
    source = (REPO / "src" / "icdenoise" / f"{module}.py").read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0] if node.level == 0 else (node.module or ""))
        elif isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
    assert not imported & {"jobs", "studies", "plotting", "snakemake", "io"}, (module, imported)
    assert "results/" not in source, f"{module}.py names a result path"
