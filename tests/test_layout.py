"""Code style and layout: ruff-clean, one name per study through every layer, science free of the workflow."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from icdenoise.studies.registry import STUDIES, STUDY_NAMES, VERDICT_CATEGORY, report_category
from workflow_utils import PAPER_CONFIG, REPO

RUFF_PATHS = ["src", "tests", "workflow/scripts", "benchmarks"]
SCIENCE = ("tasks", "models", "bayes", "train", "energy", "landscape", "noisy_tasks", "particles")
RULES = REPO / "workflow" / "rules"
#: the rule files that are no study: shared helpers and the verdict (src/icdenoise/studies/registry.py)
NOT_STUDIES = ("common", "claims")


def _ruff() -> str:
    exe = Path(sys.executable).parent / "ruff"
    found = str(exe) if exe.exists() else shutil.which("ruff")
    assert found, "ruff is part of the test extras (pinned in constraints.txt)"
    return found


@pytest.mark.parametrize("args", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_ruff_clean(args):
    proc = subprocess.run([_ruff(), *args, *RUFF_PATHS], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("study", STUDIES, ids=STUDY_NAMES)
def test_one_name_per_study_in_every_layer(study):
    """Rule file, study module, plotting module, report caption and config section share the study's name."""
    name, label = study.name, study.label
    rules = RULES / f"{name}.smk"
    modules = [REPO / "src" / "icdenoise" / sub / f"{name}.py" for sub in ("studies", "plotting")]
    for path in [rules, *modules, REPO / "workflow" / "report" / f"{name}.rst"]:
        assert path.exists(), f"{name}: {path.relative_to(REPO)} is missing"
    assert label in rules.read_text().splitlines()[0], f"{rules.name}: first line should name {label}"
    for path in modules:
        first = ast.get_docstring(ast.parse(path.read_text())).splitlines()[0]
        assert first.startswith(label) and name in first, f"{path}: first docstring line {first!r}"
    assert name in yaml.safe_load(PAPER_CONFIG.read_text()), f"config/config.yaml has no '{name}:' section"
    assert f"`{name}" in (REPO / "config" / "README.md").read_text(), f"config/README.md does not document {name}"
    assert f"report/{name}.rst" in rules.read_text(), f"{rules.name} does not caption its figure with {name}.rst"
    assert f'category=report_category("{name}")' in rules.read_text(), f"{rules.name}: report category"


def test_every_rule_file_is_a_study_or_a_named_step():
    """A rule file that is in no list is never included: each is in STUDIES or one of NOT_STUDIES."""
    files = sorted(p.stem for p in RULES.glob("*.smk"))
    assert files == sorted([*STUDY_NAMES, *NOT_STUDIES])
    assert not set(STUDY_NAMES) & set(NOT_STUDIES)


def test_snakefile_includes_the_studies_from_the_list_then_the_verdict():
    text = (REPO / "Snakefile").read_text()
    includes = [line.strip() for line in text.splitlines() if line.strip().startswith("include:")]
    assert includes == [
        'include: "workflow/rules/common.smk"',
        'include: f"workflow/rules/{study.name}.smk"',
        'include: "workflow/rules/claims.smk"',
    ]
    assert "for study in STUDIES:" in text


def test_report_categories_follow_the_list():
    """The report orders categories by name: the verdict first, then the studies in the order of the list."""
    cats = [VERDICT_CATEGORY, *(report_category(name) for name in STUDY_NAMES)]
    assert sorted(cats) == cats and cats[1] == report_category("training_dynamics") and cats[1].endswith("2. Figure 3")
    for path in RULES.glob("*.smk"):
        for line in path.read_text().splitlines():
            if "category=" in line:
                assert "category=report_category(" in line or "category=VERDICT_CATEGORY" in line, (path.name, line)


def test_opt_in_studies_are_off_by_default():
    """A study's opt_in in the list is what the schema's default of <study>.enabled says (and config.yaml)."""
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())["properties"]
    paper = yaml.safe_load(PAPER_CONFIG.read_text())
    for study in STUDIES:
        assert schema[study.name]["properties"]["enabled"].get("default") is (not study.opt_in), study.name
        assert paper[study.name].get("enabled", not study.opt_in) is (not study.opt_in), study.name


def test_fig5_only_example_switches_off_every_other_study():
    example = yaml.safe_load((REPO / "config" / "examples" / "fig5_only.yaml").read_text())
    off = {name for name, section in example.items() if section == {"enabled": False}}
    assert off == {s.name for s in STUDIES if not s.opt_in and s.name != "dam_energy"}


def test_readme_layout_table_lists_every_study_once():
    """The README's Layout table: one row per study of the list, in its order, with what it reproduces."""
    readme = (REPO / "README.md").read_text()
    layout = readme[readme.index("\n## Layout\n") :]
    table = next(block for block in layout.split("\n\n") if block.startswith("| study | paper |")).splitlines()
    rows = table[2:]  # after the header and the |---| line
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    expected = [(f"`{s.name}`", s.paper + (", opt-in" if s.opt_in else "")) for s in STUDIES]
    assert [(c[0], c[1]) for c in cells] == expected


def test_readme_step_table_names_every_rule():
    """The README's "What is computed" table names every rule of the workflow (in its first column), and no other."""
    import re

    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("\n## What is computed\n") :]
    table = next(block for block in section.split("\n\n") if block.startswith("| step (rule) |")).splitlines()[2:]
    named = {name for row in table for name in re.findall(r"`([a-z_0-9]+)`", row.strip("|").split("|")[0])}
    texts = [p.read_text() for p in [REPO / "Snakefile", *sorted(RULES.glob("*.smk"))]]
    rules = {m for text in texts for m in re.findall(r"^(?:rule|checkpoint) ([a-z_0-9]+):", text, re.M)}
    assert rules - named == set(), f"rules missing from the README's step table: {sorted(rules - named)}"
    assert named - rules == set(), f"the README's step table names no such rule: {sorted(named - rules)}"


def test_the_verdict_reads_tables_of_listed_studies_only():
    """claims.smk's STUDY_TABLES (which tables the claims read) names studies of the list."""
    text = (RULES / "claims.smk").read_text()
    block = text[text.index("STUDY_TABLES = {") + len("STUDY_TABLES = ") :]
    tables = ast.literal_eval(block[: block.index("\n}\n") + 2])
    assert tables and set(tables) <= set(STUDY_NAMES)


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


def test_long_modules_say_why():
    """No source module grows past about 600 lines without a line at its top saying why."""
    long = []
    for path in sorted((REPO / "src" / "icdenoise").rglob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > 600 and "Longer than 600 lines" not in "\n".join(text.splitlines()[:6]):
            long.append(str(path.relative_to(REPO)))
    assert not long, f"modules over 600 lines without a line at the top saying why: {long}"
