"""Settings and commands as a new user meets them: command-line overrides, subsets, result folders,
speed-only settings, one-figure commands, the default profile, licence and citation files.

Every ``snakemake`` command that README.md or config/README.md shows with ``--config``, a
``config/examples/`` file or a target is dry-run here exactly as printed (plus ``-n`` and the test's
working directory); the SLURM README's resource overrides are dry-run in tests/test_slurm.py.
"""

from __future__ import annotations

import copy
import re
import shlex
import subprocess

import pytest
import yaml

from icdenoise.config import ConfigError, follow_settings, prepare_config, run_name_from
from workflow_utils import (
    PAPER_CONFIG,
    PAPER_RESULTS,
    REPO,
    SMOKE_CONFIG,
    SMOKE_RESULTS,
    SNAKEFILE,
    job_counts,
    run_snakemake,
    snakemake_exe,
)

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
NO_GPU = {"CUDA_VISIBLE_DEVICES": ""}


def paper() -> dict:
    return yaml.safe_load(PAPER_CONFIG.read_text())


def prepared(cfg: dict, cli=None, files=None) -> tuple[dict, str | None]:
    cfg = copy.deepcopy(cfg)
    note = prepare_config(cfg, SCHEMA, cli_config=cli or {}, configfiles=files or [])
    return cfg, note


# ----------------------------------------------------------------------------- prepare_config, in-process


def test_paper_config_is_unchanged_apart_from_its_run_name():
    cfg, note = prepared(paper())
    assert note is None and cfg == paper()


def test_cli_strings_are_read_as_the_schemas_type():
    """What Snakemake's --config hands over for train={batch_size: 40, lr: 0.005}, seeds=[0, 1], ..."""
    cfg = paper()
    cfg["train"].update(batch_size="40", lr="0.005", lr_milestones=["0.5"])
    cfg["seeds"] = ["0", "1"]
    cfg["cases"]["subspace"]["sigma_z2"] = "0.5"
    cfg["context_sweep"]["enabled"] = "false"
    cfg["alpha_beta_landscape"]["ranges"]["gmm"] = {"alpha": ["0", "2.5"], "beta": ["0.0", "1e1"]}
    cfg["dim_shift"]["cases"]["gmm"]["eval_values"] = "[1, 2]"  # a list given as one string
    cfg["device"] = "cpu"
    out, _ = prepared(cfg)
    assert out["train"] == {"batch_size": 40, "lr": 0.005, "lr_milestones": [0.5], "lr_gamma": 0.1, "threads": 1}
    assert out["seeds"] == [0, 1] and out["cases"]["subspace"]["sigma_z2"] == 0.5
    assert out["context_sweep"]["enabled"] is False and out["device"] == "cpu"
    assert out["alpha_beta_landscape"]["ranges"]["gmm"] == {"alpha": [0, 2.5], "beta": [0.0, 10.0]}
    assert out["dim_shift"]["cases"]["gmm"]["eval_values"] == [1, 2]


def test_a_string_that_is_not_the_schemas_type_is_still_named():
    cfg = paper()
    cfg["train"]["batch_size"] = "forty"
    with pytest.raises(ConfigError, match=r"config key 'train.batch_size' = 'forty' has the wrong type"):
        prepared(cfg)


def test_nested_command_line_keys_are_expanded():
    cfg = paper()
    cfg.update({"cases__subspace__sigma_z2": 0.5, "__L": "100", "context_sweep__L": ["20", "100"]})
    out, _ = prepared(cfg)
    assert out["cases"]["subspace"] == {"d": 8, "sigma0_2": 2.0, "sigma_z2": 0.5, "epochs": 100}
    assert out["L"] == 100 and out["context_sweep"]["L"] == [20, 100]
    assert not [k for k in out if "__" in k]


@pytest.mark.parametrize(
    ("key", "named"),
    [
        (
            "cases__subspace__sigmaz",
            "no 'sigmaz' under cases.subspace; allowed keys there: d, epochs, sigma0_2, sigma_z2",
        ),
        ("trian__lr", "no 'trian' under <top level>"),
    ],
)
def test_unknown_nested_key_is_named(key, named):
    cfg = paper()
    cfg[key] = 1
    with pytest.raises(ConfigError) as info:
        prepared(cfg)
    assert f"(from --config {key}=...) is unknown" in str(info.value) and named in str(info.value)


def test_null_removes_a_case_and_dependent_settings_follow():
    cfg = paper()
    cfg["cases"].update(sphere=None, gmm=None)
    out, note = prepared(cfg)
    assert list(out["cases"]) == ["subspace"] and list(out["dim_shift"]["cases"]) == ["subspace"]
    assert note == "icdenoise: dim_shift runs subspace only"


def test_linear_only_follows_with_one_line():
    cfg = paper()
    cfg["models"] = ["linear"]
    out, note = prepared(cfg)
    assert list(out["dim_shift"]["cases"]) == ["subspace"] and out["context_sweep"]["models"] == ["linear"]
    assert note.count("\n") == 0 and note.startswith("icdenoise: no softmax in 'models'")
    assert "hopfield_iterations and alpha_beta_landscape start from heuristic weights only" in note


def test_studies_with_nothing_left_are_left_out():
    cfg = paper()
    cfg["cases"] = {"sphere": cfg["cases"]["sphere"]}
    cfg["models"] = ["linear"]
    follow = copy.deepcopy(cfg)
    notes = follow_settings(follow)
    assert follow["dim_shift"]["enabled"] is False and follow["context_sweep"]["enabled"] is False, notes
    out, note = prepared(cfg)  # and the result is a valid config
    assert "dim_shift is left out" in note and "context_sweep is left out" in note


def test_run_name_comes_from_cli_then_last_configfile_then_config_yaml(tmp_path):
    own = tmp_path / "mine.yaml"
    own.write_text("run_name: study_a\nseeds: [0]\n")
    partial = tmp_path / "my.yaml"
    partial.write_text("seeds: [0]\n")
    cfg = paper()
    assert run_name_from(cfg, {}, []) == ("paper", "run_name in config/config.yaml")
    assert run_name_from(cfg, {}, [SMOKE_CONFIG])[0] == "smoke"
    assert run_name_from(cfg, {}, [own])[0] == "study_a"
    assert run_name_from(cfg, {}, [own, partial])[0] == "my"  # never silently the folder of another config
    assert run_name_from(cfg, {"run_name": "x1"}, [own])[0] == "x1"


@pytest.mark.parametrize("name", ["../up", "a b", ".hidden", ""])
def test_unsafe_run_name_is_refused(name):
    with pytest.raises(ConfigError, match="config key 'run_name' = .* is not a safe folder name"):
        prepared(paper(), cli={"run_name": name})


# ----------------------------------------------------------------------------- documented commands


def _markdown_commands(path) -> list[str]:
    """Every `snakemake ...` line of the file's ```bash blocks (continuation lines joined)."""
    text = path.read_text()
    cmds = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" # ", 1)[0].strip()
            if line.startswith("snakemake "):
                cmds.append(line)
    return cmds


def _override_commands() -> list[tuple[str, str]]:
    out = []
    for name in ("README.md", "config/README.md"):
        for cmd in _markdown_commands(REPO / name):
            words = shlex.split(cmd)
            target = len(words) > 1 and not words[1].startswith("-")
            if "--config" in words or "config/examples/" in cmd or target:
                out.append((name, cmd))
    return out


OVERRIDES = _override_commands()


def test_readme_shows_the_override_forms():
    shown = " ".join(c for _, c in OVERRIDES)
    for form in ("train={", "seeds=[", "cases__subspace__sigma_z2=", "__L=", "enabled=false", "examples/linear_only"):
        assert form in shown, form


def run_documented(cmd: str, workdir, env=None) -> subprocess.CompletedProcess:
    """``cmd`` as printed, as a dry run of this checkout's workflow in ``workdir``."""
    words = shlex.split(cmd)
    assert words[0] == "snakemake"
    args = [snakemake_exe(), "-s", str(SNAKEFILE), "--directory", str(workdir), *words[1:]]
    if "-n" not in args:
        args.append("-n")
    return subprocess.run(
        args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600, env=env
    )


@pytest.mark.parametrize(("doc", "cmd"), OVERRIDES, ids=[c[len("snakemake ") :][:60] for _, c in OVERRIDES])
def test_documented_command_dry_runs(doc, cmd, tmp_path):
    proc = run_documented(cmd, tmp_path)
    assert proc.returncode == 0, f"{doc}: {cmd}\n{proc.stdout[-3000:]}"
    counts = job_counts(proc.stdout)
    assert counts["total"] > 0
    notes = [line for line in proc.stdout.splitlines() if line.startswith("icdenoise: ")]
    assert len(notes) <= 1, notes
    if "linear_only" in cmd or "models=[linear]" in cmd:
        assert len(notes) == 1 and "no softmax" in notes[0] and "train" in counts
        assert not re.search(r"runs/fig3/\w+/softmax", proc.stdout)
    if "enabled=false" in cmd:
        assert all(f"plot_{s}" not in counts for s in ("context_sweep", "alpha_beta_landscape") if s in cmd)
    if "subspace_only" in cmd:
        assert "/sphere/" not in proc.stdout and "/gmm/" not in proc.stdout
    folder = re.search(r"--configfile(?: \S+)* config/examples/(\w+)\.yaml", cmd)
    if folder:
        assert f"results/{folder.group(1)}/" in proc.stdout and "results/paper/" not in proc.stdout


def test_one_letter_and_dotted_keys_are_refused_by_snakemake_itself(tmp_path):
    """What README.md says about `--config n=8` and dotted keys is what Snakemake 9 does."""
    for form in ("n=8", "cases.subspace.sigma_z2=0.5"):
        proc = run_snakemake(tmp_path, "-n", "--config", form, check=False)
        assert proc.returncode != 0 and "Config entry must start with a valid identifier" in proc.stdout, form
    readme = (REPO / "README.md").read_text()
    assert "Config\nentry must start with a valid identifier" in readme or "Config entry must start" in readme


# ----------------------------------------------------------------------------- result folders, reruns


def test_smoke_and_paper_results_are_separate_folders(smoke_run):
    """After the smoke run, the paper config plans every job under results/paper/, none under results/smoke/."""
    assert (smoke_run / SMOKE_RESULTS / "figures" / "fig3.pdf").exists()
    out = run_snakemake(smoke_run, "-n", configfile=PAPER_CONFIG).stdout
    counts = job_counts(out)
    assert counts["plot_training_dynamics"] == 1 and counts["train"] == len(paper()["cases"]), counts
    assert f"{PAPER_RESULTS}/runs/fig3/gmm/softmax/seed5.npz" in out and f"{SMOKE_RESULTS}/" not in out
    partial = smoke_run / "my.yaml"
    partial.write_text("seeds: [0]\n")
    out = run_snakemake(smoke_run, "-n", "--configfile", str(partial), configfile=None).stdout
    assert "results/my/" in out and SMOKE_RESULTS not in out and PAPER_RESULTS not in out


@pytest.mark.parametrize(
    "overrides",
    [
        ["device=cpu"],
        ["train__threads=3", "hopfield_iterations__threads=3", "alpha_beta_landscape__threads=3"],
    ],
    ids=["device", "threads"],
)
def test_speed_only_settings_plan_nothing(smoke_run, overrides):
    out = run_snakemake(smoke_run, "-n", "--config", *overrides, env=NO_GPU).stdout
    assert "Nothing to be done" in out, out[-3000:]


# ----------------------------------------------------------------------------- a subset at smoke scale


@pytest.mark.slow
def test_subset_config_runs_at_smoke_scale(tmp_path):
    """One case, one model, one study switched off, merged onto the smoke config: it runs and makes
    the remaining figures under results/<its file name>/."""
    subset = tmp_path / "subset.yaml"
    subset.write_text("cases: {sphere: null, gmm: null}\nmodels: [linear]\ncontext_sweep: {enabled: false}\n")
    work = tmp_path / "work"
    proc = run_snakemake(work, "--cores", "2", "--configfile", str(SMOKE_CONFIG), str(subset), configfile=None)
    notes = [line for line in proc.stdout.splitlines() if line.startswith("icdenoise: ")]
    assert len(notes) == 1 and "no softmax" in notes[0], notes
    res = work / "results" / "subset"
    figures = sorted(p.name for p in (res / "figures").glob("*.pdf"))
    assert figures == ["fig3.pdf", "fig4b.pdf", "fig5.pdf", "fig6.pdf", "fig_hopfield_iterations.pdf"], figures
    runs = sorted(str(p.relative_to(res / "runs")) for p in (res / "runs").rglob("*.npz"))
    assert runs == [
        "dim_shift/subspace/linear/seed0.npz",
        "fig3/subspace/linear/seed0.npz",
        "fig3/subspace/linear/seed1.npz",
    ], runs
    import pandas as pd

    points = pd.read_parquet(res / "tables" / "landscape_points.parquet")
    assert set(points["case"]) == {"subspace"} and "trained" not in set(points["kind"])


# ----------------------------------------------------------------------------- commands and profile


def test_bare_command_uses_the_default_profile(tmp_path):
    """No --cores: the default profile sets them; script rules print no 'Shell command: None'."""
    proc = run_snakemake(tmp_path, "plot_dam_energy", "--configfile", str(SMOKE_CONFIG), configfile=None, env=NO_GPU)
    assert "Using workflow specific profile" in proc.stdout
    assert "Shell command" not in proc.stdout
    assert (tmp_path / SMOKE_RESULTS / "figures" / "fig5.pdf").exists()


@pytest.mark.parametrize(
    ("make_args", "expected"),
    [
        (["reproduce", "SNAKEMAKE_ARGS=results/paper/figures/fig3.pdf"], "results/paper/figures/fig3.pdf --cores 8"),
        (["fig4a", "CONFIG=config/smoke.yaml"], "plot_context_sweep --configfile config/smoke.yaml --cores 8"),
        (["fig3"], "plot_training_dynamics --cores 8 --resources gpu=1"),
        (["hopfield"], "plot_hopfield_iterations --cores"),
    ],
)
def test_make_puts_targets_before_options(make_args, expected):
    out = subprocess.run(
        ["make", "-n", "-o", ".venv/bin/snakemake", *make_args], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    line = [x for x in out.splitlines() if "bin/snakemake " in x][-1]
    assert expected in re.sub(r"\s+", " ", line), line


def test_readme_lists_rules_that_work_as_targets():
    readme = (REPO / "README.md").read_text()
    rules = set(
        re.findall(r"^rule (\w+):", "".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk")), re.M)
    )
    for name in re.findall(r"`(plot_\w+)`", readme):
        assert name in rules, name
    for study in ("training_dynamics", "context_sweep", "dim_shift", "dam_energy", "alpha_beta_landscape"):
        assert f"`plot_{study}`" in readme


def test_license_and_citation():
    assert "MIT License" in (REPO / "LICENSE").read_text()
    assert "Copyright (c) 2026 the icdenoise authors" in (REPO / "LICENSE").read_text()
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    paper_cite = cff["preferred-citation"]
    assert paper_cite["title"] == (
        "In-context denoising with one-layer transformers: connections between attention and associative "
        "memory retrieval"
    )
    assert [a["family-names"] for a in paper_cite["authors"]] == ["Smart", "Bietti", "Sengupta"]
    assert paper_cite["year"] == 2025 and "2502.05164" in str(paper_cite["identifiers"])
    assert cff["type"] == "software" and cff["license"] == "MIT"
    ignored = (REPO / ".gitignore").read_text().split()
    assert "report.html" in ignored and "results/" in ignored
