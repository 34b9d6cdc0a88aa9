"""The ``icdenoise`` command line (issue 15), called as a user calls it: in a subprocess.

Every run is tiny (a few epochs, tens of prompts) except ``bayes`` at the paper's settings, which
checks the oracle MSEs against the closed forms and the Monte Carlo values of experiments.md.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"


def _env(**extra) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env


def cli(*args, cwd=None, timeout=120) -> subprocess.CompletedProcess:
    """``python -m icdenoise ARGS`` with this checkout's src first on the path."""
    return subprocess.run(
        [sys.executable, "-m", "icdenoise", *map(str, args)],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_line_error(res: subprocess.CompletedProcess, code: int = 2) -> str:
    assert res.returncode == code, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


# ----------------------------------------------------------------------------------- entry point


def test_console_script_is_declared_and_runs():
    import tomllib

    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["icdenoise"] == "icdenoise.cli:main"
    from icdenoise import cli

    assert callable(cli.main)
    exe = shutil.which("icdenoise", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("no icdenoise executable next to this python (install with `pip install -e .` to create it)")
    res = subprocess.run([exe, "--version"], env=_env(), capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.startswith("icdenoise "), res


def test_help_shows_every_default_from_the_config():
    """Every option's help names its default, and the defaults are read from the config given."""
    import yaml

    from icdenoise.cli import build_parser

    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    parser = build_parser(cfg)
    subs = next(a for a in parser._actions if a.dest == "command").choices
    for name in ("train", "bayes"):
        for action in subs[name]._actions:
            if action.option_strings and action.dest not in ("help", "case", "model", "out", "cases"):
                assert "default" in (action.help or ""), (name, action.option_strings)
    text = subs["train"].format_help()
    assert (
        "sphere 200" in text
        and "(default 80, config train.batch_size)" in text
        and "(default 0.01, config train.lr)" in text
    )
    cfg["n"], cfg["cases"]["sphere"]["epochs"] = 99, 7  # one source of truth: the help follows the config
    cfg["training_dynamics"]["baseline_fresh_prompts"], cfg["train"]["lr_gamma"] = 321, 0.5
    cfg["run_name"], cfg["strict_claims"] = "mine", True
    choices = build_parser(cfg)._subparsers._group_actions[0].choices
    text = choices["train"].format_help()
    assert "(default 99)" in text and "sphere 7" in text and "(default 0.5, config train.lr_gamma)" in text
    assert "default 321, config training_dynamics.baseline_fresh_prompts" in " ".join(text.split())
    text = " ".join(choices["claims"].format_help().split())
    assert "(default: results/mine, config run_name)" in text and "(default on, config strict_claims)" in text
    assert choices["claims"].parse_args([]).results == "results/mine" and choices["claims"].parse_args([]).strict


# ----------------------------------------------------------------------------------- train

TINY = ["--epochs", "3", "--L", "20", "--n-train", "40", "--n-test", "20", "--batch-size", "10", "--prompts", "2000"]


def test_train_prints_what_it_writes(tmp_path):
    out = tmp_path / "run.parquet"
    res = cli("train", "--case", "gmm", "--model", "softmax", "--seeds", "0", "1", *TINY, "--out", out)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["seed", "alpha"])
    names = lines[header].split()
    printed = {
        int(r.split()[0]): dict(zip(names, map(float, r.split()), strict=True)) for r in lines[header + 1 : header + 3]
    }
    assert "Bayes MSE" in res.stdout and "zero predictor 0.082500" in res.stdout
    rows = pd.read_parquet(out)
    curves = pd.read_parquet(tmp_path / "run.curves.parquet")
    assert list(rows["seed"]) == [0, 1]
    for _, row in rows.iterrows():
        p = printed[row["seed"]]
        assert abs(p["test_mse"] - row["test_mse"]) <= 5e-8
        assert abs(p["train_mse"] - row["train_mse"]) <= 5e-8
        assert abs(p["alpha"] - row["alpha"]) <= 5e-6 and abs(p["beta"] - row["beta"]) <= 5e-6
        assert abs(p["test/Bayes"] - row["test_mse"] / row["bayes_mse"]) <= 5e-5
        last = curves[(curves.seed == row["seed"]) & (curves.split == "test")].sort_values("epoch").iloc[-1]
        assert last["epoch"] == 3 and last["mse"] == row["test_mse"]
    assert set(curves.columns) == {"case", "model", "seed", "epoch", "split", "mse", "lr", "alpha", "beta"}


def test_train_is_the_workflows_run(tmp_path):
    """Same seeds as the workflow's rules: sample_prompts with derive_seed(base, 'data', case, s), train with
    derive_seed(base, 'train', case, model, s), through the functions the rule scripts call."""
    from icdenoise.api import paper_settings, run_config, train_case
    from icdenoise.io import load_run
    from icdenoise.runs import plan_runs, train_job
    from icdenoise.studies import training_dynamics
    from icdenoise.tasks import derive_seed

    over = dict(epochs=2, L=12, n_train=30, n_test=10, batch_size=10, d=3, n=6)
    got = train_case("subspace", "linear", seeds=[1], progress=False, **over)
    s = paper_settings("subspace", **over)
    data = tmp_path / "data.npz"
    training_dynamics.sample_datasets(
        [str(data)],
        case="subspace",
        rng_seeds=[derive_seed(s["base_seed"], "data", "subspace", 1)],
        n=6,
        L=12,
        num_prompts=40,
        params=dict(d=3, sigma0_2=s["sigma0_2"], sigma_z2=s["sigma_z2"]),
    )
    # the rule's plan: one run reading the prompt file, with the documented seeds
    planned = plan_runs(
        run_config(s, "subspace"), "training_dynamics", case="subspace", models=["linear"], seeds=[1],
        data_path=lambda case, i: str(data),
    )  # fmt: skip
    assert planned[0].data_seed == derive_seed(s["base_seed"], "data", "subspace", 1)
    assert planned[0].train_seed == derive_seed(s["base_seed"], "train", "subspace", "linear", 1)
    train_job([str(tmp_path / "run.npz")], runs=[r.to_param() for r in planned], device="cpu")
    arrays, _ = load_run(str(tmp_path / "run.npz"))
    assert (arrays["test_mse"] == got.curves.query("split == 'test'")["mse"].to_numpy()).all()
    assert (arrays["W_KQ"] == got.models[1].W_KQ).all() and (arrays["W_PV"] == got.models[1].W_PV).all()


def test_diverged_run_exits_1_naming_seed_and_settings():
    res = cli("train", "--case", "sphere", "--model", "softmax", "--seeds", "3", *TINY, "--lr", "1e12")
    line = one_line_error(res, code=1)
    assert "seed 3 diverged" in line and "case=sphere" in line and "model=softmax" in line
    assert "lr=1000000000000.0" in line and "L=20" in line


# ----------------------------------------------------------------------------------- bad input

# The bad inputs, through the console script in a subprocess (no torch import: fast) ...
BAD_SUBPROCESS = [
    (["train", "--case", "circle", "--model", "softmax"], "argument --case: invalid choice: 'circle'"),
    (["train", "--case", "subspace", "--model", "linear", "--d", "16"], "--d = 16 must be < --n = 16"),
    (["bayes", "--case", "sphere", "--sigma-z2", "-1"], "--sigma-z2 = -1.0 is out of range"),
    (["train", "--case", "sphere", "--model", "softmax", "--batch-size", "900"], "--batch-size = 900 is larger"),
]
# ... and more of them in-process through the same main() (a subprocess each would cost seconds).
BAD_IN_PROCESS = [
    (["train", "--case", "sphere", "--model", "mlp"], "--model"),
    (["train", "--case", "sphere", "--model", "softmax", "--n", "8", "--d", "9"], "--d = 9 must be < --n = 8"),
    (["train", "--case", "gmm", "--model", "softmax", "--sigma0-2", "-0.02"], "--sigma0-2 = -0.02 is out of range"),
    (["train", "--case", "gmm", "--model", "softmax", "--sigma-z2", "0"], "--sigma-z2 = 0.0 is out of range"),
    (
        ["train", "--case", "sphere", "--model", "softmax", "--n-train", "40", "--batch-size", "41"],
        "--batch-size = 41 is larger than the training set (--n-train = 40)",
    ),
    (["train", "--case", "sphere", "--model", "softmax", "--p", "4"], "--p does not apply to case sphere"),
    (["train", "--case", "sphere", "--model", "softmax", "--epochs", "0"], "--epochs = 0 is out of range"),
    (["train", "--case", "sphere", "--model", "softmax", "--lr", "0"], "--lr = 0.0 is out of range"),
    (["train", "--case", "sphere", "--model", "softmax", "--n-test", "0"], "--n-test = 0 is out of range"),
    (["train", "--case", "sphere", "--model", "softmax", "--lr-milestones", "1.5"], "--lr-milestones = 1.5"),
    (["train", "--case", "sphere", "--model", "softmax", "--seeds", "-1"], "--seeds"),
    (["train", "--case", "sphere", "--model", "softmax", "--seeds", "1", "1"], "--seeds = [1, 1]"),
    (["train", "--case", "sphere", "--model", "softmax", "--L", "ten"], "--L"),
    (["train", "--case", "sphere", "--model", "softmax", "--out", "."], "--out . is a directory"),
    (["bayes", "--case", "gmm", "--prompts", "1"], "--prompts = 1 is too small"),
    (["bayes", "--case", "gmm", "--d", "3"], "--d does not apply to case gmm"),
    (["frobnicate"], "invalid choice"),
    ([], "required: COMMAND"),
]


def _ids(cases):
    return [" ".join(a) or "no-command" for a, _ in cases]


@pytest.mark.parametrize("args, expected", BAD_SUBPROCESS, ids=_ids(BAD_SUBPROCESS))
def test_bad_input_exits_2_with_one_line(args, expected):
    line = one_line_error(cli(*args))
    assert expected in line and line.startswith("icdenoise"), line


@pytest.mark.parametrize("args, expected", BAD_IN_PROCESS, ids=_ids(BAD_IN_PROCESS))
def test_more_bad_input_exits_2_with_one_line(args, expected, capsys):
    from icdenoise.cli import main

    try:
        code = main(args)
    except SystemExit as exc:  # argparse's errors
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2 and out == "", (code, out, err)
    assert len(err.strip().splitlines()) == 1 and expected in err and err.startswith("icdenoise"), err


def test_device_cuda_without_cuda_exits_2():
    """CUDA hidden from torch (CUDA_VISIBLE_DEVICES=''), as on a machine without a GPU."""
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "icdenoise",
            "train",
            "--case",
            "sphere",
            "--model",
            "softmax",
            "--device",
            "cuda",
            *TINY,
        ],
        env=_env(CUDA_VISIBLE_DEVICES=""),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "--device 'cuda': CUDA is not available" in one_line_error(res)


# ----------------------------------------------------------------------------------- bayes


def _bayes_table(stdout: str) -> dict:
    """{case: {estimator: (closed form or None, mc, se)}} and {case: text} from `icdenoise bayes`."""
    table, case = {}, None
    for line in stdout.splitlines():
        m = re.match(r"(\w+): n=", line)
        if m:
            case = m.group(1)
            table[case] = {}
            continue
        m = re.match(r"\s+(\w+)\s+(-|[\d.]+)\s+([\d.]+) ± ([\d.]+)", line)
        if m and case:
            closed = None if m.group(2) == "-" else float(m.group(2))
            table[case][m.group(1)] = (closed, float(m.group(3)), float(m.group(4)))
    return table


def test_bayes_at_paper_settings_matches_closed_forms_and_experiments_md():
    res = cli("bayes", "--prompts", "50000")
    assert res.returncode == 0, res.stderr
    t = _bayes_table(res.stdout)
    assert set(t) == {"subspace", "sphere", "gmm"}

    def near(value, se, ref, ref_digits_half=0.0):
        """Within 4 standard errors of a reference (plus half its last quoted digit)."""
        return abs(value - ref) <= 4 * se + ref_digits_half

    sub = t["subspace"]
    assert sub["bayes"][0] == 0.333333 and near(sub["bayes"][1], sub["bayes"][2], 1 / 3)  # Prop. 2: 1/3
    assert sub["projection"][0] == 0.5 and near(sub["projection"][1], sub["projection"][2], 0.5)
    assert sub["zero"][0] == 1.0 and near(sub["zero"][1], sub["zero"][2], 1.0)
    assert "γ*(L=500) = αβ = 0.327439, MSE 0.345121" in res.stdout  # experiments.md: 0.32744, 0.34512

    sph = t["sphere"]
    assert sph["bayes"][0] is None and near(sph["bayes"][1], (sph["bayes"][2] ** 2 + 0.00002**2) ** 0.5, 0.02899)
    assert near(sph["projection"][1], sph["projection"][2], 0.0337, 0.00005)
    assert sph["zero"][0] == 0.0625

    gmm = t["gmm"]
    assert gmm["bayes"][0] is None and near(gmm["bayes"][1], gmm["bayes"][2], 0.0230, 0.00005)
    assert near(gmm["bayes_sigma0_to_0"][1], gmm["bayes_sigma0_to_0"][2], 0.0262, 0.00005)
    assert gmm["zero"][0] == 0.0825 and near(gmm["zero"][1], gmm["zero"][2], 0.0825)


def test_bayes_and_train_use_the_configs_fresh_prompts(tmp_path, monkeypatch, capsys):
    """A config with another training_dynamics.baseline_fresh_prompts: `bayes` and `train` draw that many."""
    import yaml

    from icdenoise import api
    from icdenoise.cli import main

    cfg = api.load_config()
    cfg["training_dynamics"]["baseline_fresh_prompts"] = 321
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    monkeypatch.setattr(api, "config_path", lambda: path)  # where load_config() finds the checkout's config
    assert main(["bayes", "--case", "subspace", "--L", "20"]) == 0
    out = capsys.readouterr().out
    assert "Monte Carlo: 321 fresh prompts (seed index 0)" in out, out
    tiny = ["--epochs", "1", "--L", "10", "--n-train", "20", "--n-test", "10", "--batch-size", "10", "--no-progress"]
    assert main(["train", "--case", "sphere", "--model", "linear", "--seeds", "0", *tiny]) == 0
    out = capsys.readouterr().out
    assert "(Monte Carlo, 321 prompts)" in out, out


# ----------------------------------------------------------------------------------- check-config


def test_check_config_good_and_bad(tmp_path):
    res = cli("check-config", REPO / "config" / "smoke.yaml")
    assert res.returncode == 0 and res.stdout.strip() == "ok", res

    bad = tmp_path / "bad.yaml"
    bad.write_text("cases:\n  sphere: {sigma_z2: -0.1}\nseeds: [0, 0]\nmodels: [mlp]\n")
    res = cli("check-config", bad)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    for key in ("'cases.sphere.sigma_z2'", "'seeds'", "'models[0]'"):
        assert key in res.stderr, res.stderr

    relation = tmp_path / "relation.yaml"
    relation.write_text("n: 8\ntrain: {batch_size: 1000}\n")  # merged: d = 8 (paper) is no longer < n
    res = cli("check-config", relation)
    assert res.returncode == 2
    for key in ("'cases.subspace.d' = 8 must be < n = 8", "'cases.sphere.d'", "'train.batch_size' = 1000"):
        assert key in res.stderr, res.stderr

    assert "no such file" in one_line_error(cli("check-config", tmp_path / "missing.yaml"))


def test_check_config_merges_like_snakemake_configfile():
    from snakemake.utils import update_config

    from icdenoise.api import load_config, merge_config

    base = load_config()
    override = {
        "n": 8,
        "cases": {"sphere": {"d": 3}},
        "seeds": [4],
        "train": {"lr_milestones": []},
        "dim_shift": {"cases": {"gmm": {"eval_values": [2]}}},
    }
    expected = load_config()
    update_config(expected, override)
    assert merge_config(base, override) == expected
    assert base == load_config()  # the base is not modified


# ----------------------------------------------------------------------------------- claims


def test_claims_table(tmp_path):
    claims = pd.DataFrame(
        {
            "id": ["case1_linear_alpha_beta", "sphere_bayes_mc", "gmm_softmax_beta", "fig4a_gamma_star"],
            "source": ["§3.2", "Prop. 3", "§3.4", "Fig. 4a"],
            "statement": ["αβ ≈ 1/3", "Bayes MSE", "β ≈ 5.127", "αβ → γ*(L)"],
            "paper_value": ["0.327", "0.0290", "5.127", "0.327"],
            "reproduced": [0.3187, 0.028993, 3.9, float("nan")],
            "spread": ["0.3184–0.3190", "± 0.00002", "3.5–4.2", None],
            "tolerance": ["0.01", "3 SE", "0.2", "0.01"],
            "tolerance_reason": ["seed spread", "Monte Carlo SE", "seed spread", "theory"],
            "verdict": ["reproduced", "reproduced", "not reproduced", "not checkable at this scale"],
            "evidence": ["trained_weights.parquet", "baselines.parquet", "fig3.pdf", "fig4a.pdf"],
        }
    )
    (tmp_path / "tables").mkdir()
    claims.to_parquet(tmp_path / "tables" / "claims.parquet")
    res = cli("claims", tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0].split() == ["id", "paper_value", "reproduced", "spread", "verdict"]
    assert "sphere_bayes_mc" in res.stdout and "0.3187" in res.stdout and "not checkable" in res.stdout
    assert res.stdout.strip().splitlines()[-1] == "2 of 4 claims reproduced (1 not checkable at this scale)"
    assert cli("claims", tmp_path, "--strict").returncode == 1

    line = one_line_error(cli("claims", tmp_path / "nothing"))
    assert "nothing/tables/claims.parquet not found" in line and "snakemake" in line


# ----------------------------------------------------------------------------------- README examples


def _readme_block(section: str, lang: str) -> str:
    text = (REPO / "README.md").read_text()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    m = re.search(rf"```{lang}\n(.*?)```", body, re.DOTALL)
    assert m, f"no {lang} block in README section {section!r}"
    return m.group(1)


def test_readme_shell_example_runs_as_printed(tmp_path):
    """The block runs through bash with `icdenoise` on PATH (a shim for `python -m icdenoise`), in a
    directory laid out like the checkout (config/smoke.yaml)."""
    block = _readme_block("Use it from the shell", "bash")
    shim = tmp_path / "bin" / "icdenoise"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m icdenoise "$@"\n')
    shim.chmod(0o755)
    work = tmp_path / "work"
    (work / "config").mkdir(parents=True)
    shutil.copy(REPO / "config" / "smoke.yaml", work / "config" / "smoke.yaml")
    env = _env(PATH=f"{shim.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    res = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block], cwd=work, env=env, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert (work / "run.parquet").exists() and (work / "run.curves.parquet").exists()
    assert res.stdout.strip().endswith("ok")


def test_readme_python_example_runs_as_printed(tmp_path):
    block = _readme_block("Use it from Python", "python")
    res = subprocess.run(
        [sys.executable, "-c", block], cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0.3274" in res.stdout and "alpha" in res.stdout
