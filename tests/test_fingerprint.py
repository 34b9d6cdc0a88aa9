"""Code fingerprints (src/icdenoise/fingerprint.py): editing the package reruns the jobs that run the edit, only those.

Unit tests on a tiny fake package; a layout check that every script rule carries its ``code`` param; and, on a
copy of the checkout holding the session's smoke build, dry runs after an edit of a plotting module, after an
edit of train.py, and without an edit.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from icdenoise.fingerprint import code_fingerprint, source_files
from workflow_utils import REPO, SMOKE_CONFIG, SMOKE_RESULTS, job_counts, snakemake_exe

SRC = REPO / "src"
SCRIPTS = REPO / "workflow" / "scripts"

FAKE = {
    "fakepkg/__init__.py": '_EXPORTS = {"Thing": "lazy"}\n',
    "fakepkg/lazy.py": "Thing = 1\n",
    "fakepkg/a.py": "import os\n\n\ndef run():\n    from .b import helper\n\n    return helper()\n",
    "fakepkg/b.py": "from fakepkg.sub import d\n\n\ndef helper():\n    return d.VALUE\n",
    "fakepkg/sub/__init__.py": "",
    "fakepkg/sub/d.py": "import importlib\n\nVALUE = importlib.import_module('.e', __package__)\n",
    "fakepkg/sub/e.py": "",
    "fakepkg/unrelated.py": "X = 2\n",
}


def fake_package(root: Path) -> tuple[Path, Path]:
    """A package with a lazy import inside a function, a submodule import, import_module and lazy exports."""
    src = root / "src"
    for rel, text in FAKE.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    script = root / "script.py"
    script.write_text("import sys\n\nfrom fakepkg.a import run\n\nrun()\n")
    return script, src


def test_lazy_imports_are_followed_transitively(tmp_path):
    script, src = fake_package(tmp_path)
    assert source_files(script, src, "fakepkg") == [
        "fakepkg/__init__.py",
        "fakepkg/a.py",
        "fakepkg/b.py",  # imported inside a function of a.py
        "fakepkg/sub/__init__.py",  # a package on the way to sub.d
        "fakepkg/sub/d.py",  # from fakepkg.sub import d: d is a module
        "fakepkg/sub/e.py",  # importlib.import_module(".e", __package__)
    ]


def test_only_an_edit_of_an_imported_file_changes_the_fingerprint(tmp_path):
    script, src = fake_package(tmp_path)
    before = code_fingerprint(script, src, "fakepkg")
    (src / "fakepkg" / "unrelated.py").write_text("X = 3\n")
    (src / "fakepkg" / "lazy.py").write_text("Thing = 2\n")  # a lazy export that nothing asks for
    assert code_fingerprint(script, src, "fakepkg") == before
    with open(src / "fakepkg" / "b.py", "a") as fh:
        fh.write("# a comment\n")
    assert code_fingerprint(script, src, "fakepkg") != before


def test_a_lazy_export_counts_once_it_is_imported(tmp_path):
    _, src = fake_package(tmp_path)
    script = tmp_path / "uses_export.py"
    script.write_text("from fakepkg import Thing\n")
    assert source_files(script, src, "fakepkg") == ["fakepkg/__init__.py", "fakepkg/lazy.py"]


def test_contents_only_not_mtimes_caches_or_location(tmp_path):
    script, src = fake_package(tmp_path / "one")
    before = code_fingerprint(script, src, "fakepkg")
    for path in src.rglob("*.py"):
        os.utime(path, (1, 1))
    cache = src / "fakepkg" / "__pycache__"
    cache.mkdir()
    (cache / "a.cpython-311.pyc").write_bytes(b"\0")
    assert code_fingerprint(script, src, "fakepkg") == before
    shutil.copytree(tmp_path / "one", tmp_path / "two")  # another checkout, e.g. a cluster node's copy
    assert code_fingerprint(tmp_path / "two" / "script.py", tmp_path / "two" / "src", "fakepkg") == before


def test_a_plot_script_depends_on_its_plot_module_not_on_training():
    files = source_files(SCRIPTS / "plot_context_sweep.py", SRC)
    assert "icdenoise/plotting/context_sweep.py" in files and "icdenoise/plotting/__init__.py" in files
    assert "icdenoise/train.py" not in files and "icdenoise/plotting/dim_shift.py" not in files
    assert "icdenoise/train.py" in source_files(SCRIPTS / "train.py", SRC)
    # the list of studies is read by the workflow's planning and by the verdict only: adding a study reruns no job
    # but the claims (whose table covers every study with claims)
    assert not any("registry" in f for s in SCRIPTS.glob("*.py") if s.stem != "claims" for f in source_files(s, SRC))
    assert "icdenoise/studies/registry.py" in source_files(SCRIPTS / "claims.py", SRC)


def test_every_script_rule_passes_its_code_fingerprint():
    """A rule that runs workflow/scripts/<rule>.py has the param code=code_fingerprint("<rule>")."""
    rules = {}
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^(?=rule )", smk.read_text(), flags=re.M)[1:]:
            name = re.match(r"rule (\w+):", block).group(1)
            script = re.search(r'^    script:\n        "\.\./scripts/(\w+)\.py"', block, re.M)
            if script:
                rules[name] = script.group(1)
                assert f'code=code_fingerprint("{name}")' in block, f"rule {name} ({smk.name}) has no code param"
    assert rules and all(name == script for name, script in rules.items())
    assert sorted(rules) == sorted(p.stem for p in SCRIPTS.glob("*.py"))


# ----------------------------------------------------------------------------- the workflow on a copy


def dry_run(checkout: Path, *args: str) -> tuple[dict[str, int], dict[str, set[str]], str]:
    """Dry run of the copy's workflow: (job counts, {reason: rules}, output); {}, {} when nothing is to be done."""
    cmd = [snakemake_exe(), "-n", "-s", str(checkout / "Snakefile"), "--directory", str(checkout), *args]
    cmd += ["--configfile", str(checkout / "config" / SMOKE_CONFIG.name), "--cores", "2"]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:]
    if "Nothing to be done" in proc.stdout:
        return {}, {}, proc.stdout
    reasons, header = {}, None
    section = proc.stdout.split("\nReasons:\n", 1)[1]
    for line in section.splitlines()[1:]:  # after "(check individual jobs above for details)"
        if line.startswith("        "):
            reasons[header] |= {r.strip() for r in line.split(",")}
        elif line.startswith("    ") and line.endswith(":"):
            header = line.strip().rstrip(":")
            reasons[header] = set()
        else:
            break
    counts = job_counts(proc.stdout)
    counts.pop("total")
    return counts, reasons, proc.stdout


@pytest.fixture(scope="module")
def built_copy(smoke_run, tmp_path_factory):
    """A copy of the checkout that holds the session's smoke build (results and Snakemake's metadata)."""
    copy = tmp_path_factory.mktemp("fingerprint") / "checkout"
    copy.mkdir()
    shutil.copy2(REPO / "Snakefile", copy / "Snakefile")
    for name in ("workflow", "src", "config", "envs"):  # copy2 keeps mtimes: the scripts stay older than results
        shutil.copytree(REPO / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(smoke_run / SMOKE_RESULTS, copy / SMOKE_RESULTS)
    shutil.copytree(smoke_run / ".snakemake" / "metadata", copy / ".snakemake" / "metadata")
    return copy


class edited:
    """Append a comment line to a file of the copy for the duration of a with block."""

    def __init__(self, path: Path):
        self.path, self.text = path, path.read_text()

    def __enter__(self):
        self.path.write_text(self.text + "# an edit\n")

    def __exit__(self, *exc):
        self.path.write_text(self.text)


def importers(checkout: Path, rel: str) -> set[str]:
    """The rules (= script names) whose scripts can execute src/<rel>."""
    scripts = sorted((checkout / "workflow" / "scripts").glob("*.py"))
    return {s.stem for s in scripts if rel in source_files(s, checkout / "src")}


@pytest.mark.slow
def test_every_job_recorded_the_fingerprint_of_this_checkout(built_copy):
    """What the build (in the repository) recorded is what the pure function gives on a copy elsewhere."""
    records = [json.loads(p.read_text()) for p in (built_copy / ".snakemake" / "metadata").iterdir()]
    recorded = {(r["rule"], p) for r in records for p in r["params"]}
    rules = {r["rule"] for r in records} - {"all"}
    assert {"train", "plot_context_sweep", "claims"} <= rules
    for rule in rules:
        code = code_fingerprint(built_copy / "workflow" / "scripts" / f"{rule}.py", built_copy / "src")
        assert (rule, repr(code)) in recorded, rule


@pytest.mark.slow
def test_a_built_unchanged_checkout_plans_nothing(built_copy):
    counts, reasons, out = dry_run(built_copy)
    assert counts == {} and reasons == {}, out[-3000:]


@pytest.mark.slow
def test_editing_a_plot_module_reruns_only_its_plot(built_copy):
    with edited(built_copy / "src" / "icdenoise" / "plotting" / "context_sweep.py"):
        counts, reasons, out = dry_run(built_copy)
    assert counts == {"plot_context_sweep": 1, "all": 1}, out[-3000:]
    assert reasons == {"params have changed since last execution": {"plot_context_sweep"},
                       "input files updated by another job": {"all"}}  # fmt: skip
    assert dry_run(built_copy)[0] == {}  # the edit undone: nothing to do again


@pytest.mark.slow
def test_editing_train_reruns_what_imports_it_and_what_follows(built_copy):
    every_rule = set(dry_run(built_copy, "--forceall")[0]) - {"all"}  # the smoke DAG (gap_study is opt-in)
    with edited(built_copy / "src" / "icdenoise" / "train.py"):
        counts, reasons, out = dry_run(built_copy)
    uses_train = importers(built_copy, "icdenoise/train.py")
    assert {"train", "train_context_sweep", "train_dim_shift", "train_dataset_choice"} <= uses_train
    assert not uses_train & {"dam_energy_data", "plot_dam_energy"}  # Figure 5 trains nothing
    assert set(reasons) == {"params have changed since last execution", "input files updated by another job"}
    assert reasons["params have changed since last execution"] <= uses_train  # the first jobs of the rerun
    planned = set(counts) - {"all"}
    assert uses_train & every_rule <= planned, out[-3000:]
    # everything else in the smoke DAG depends on a job that runs train.py, but Figure 5
    assert planned == every_rule - {"dam_energy_data", "plot_dam_energy"}, out[-3000:]
