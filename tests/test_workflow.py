"""The Snakemake workflow: planning at paper scale, lint, and the smoke config end to end."""

from __future__ import annotations

import pandas as pd
import pytest

from workflow_utils import PAPER_CONFIG, PAPER_RESULTS, REPO, SMOKE_RESULTS, job_counts, run_snakemake

TABLE_COLUMNS = {
    "training_curves": {
        "case": "string",
        "model": "string",
        "seed": "int64",
        "epoch": "int64",
        "split": "string",
        "mse": "float64",
        "lr": "float64",
        "alpha": "float64",
        "beta": "float64",
    },
    "trained_weights": {
        "case": "string",
        "model": "string",
        "seed": "int64",
        "alpha": "float64",
        "beta": "float64",
        "abs_alpha": "float64",
        "abs_beta": "float64",
        "alpha_beta": "float64",
        "dist_KQ": "float64",
        "dist_PV": "float64",
        "train_mse": "float64",
        "test_mse": "float64",
    },
    "trained_matrices": {
        "case": "string",
        "model": "string",
        "seed": "int64",
        "matrix": "string",
        "row": "int64",
        "col": "int64",
        "value": "float64",
    },
    "baselines": {"case": "string", "seed": "int64", "estimator": "string", "split": "string", "mse": "float64"},
    "run_metadata": {"case": "string", "model": "string", "seed": "int64", "device": "string", "seconds": "float64"},
}


def test_dry_run_paper_config_plans_every_job(tmp_path):
    out = run_snakemake(tmp_path, "-n", "--resources", "gpu=1", configfile=PAPER_CONFIG).stdout
    counts = job_counts(out)
    # one batched ensemble job per case, still one run file per (case, model, seed); the short per-case
    # steps (sampling, oracles) are one job for all cases, each case still its own files
    assert counts["train"] == 3 and counts["sample_prompts"] == 1 and counts["evaluate_baselines"] == 1
    for case in ("subspace", "sphere", "gmm"):
        assert f"{PAPER_RESULTS}/evaluations/baselines/{case}.parquet" in out, case
    for case in ("subspace", "sphere", "gmm"):
        for model in ("linear", "softmax"):
            assert all(f"{PAPER_RESULTS}/runs/fig3/{case}/{model}/seed{s}.npz" in out for s in range(6)), (case, model)
        assert all(f"{PAPER_RESULTS}/data/{case}/seed{s}.npz" in out for s in range(6)), case
    assert counts["gather_training_dynamics"] == 1 and counts["plot_training_dynamics"] == 1 and counts["all"] == 1


def test_dry_run_shared_dataset_samples_once_per_case(tmp_path):
    out = run_snakemake(tmp_path, "-n", "--config", "dataset=shared", configfile=PAPER_CONFIG).stdout
    counts = job_counts(out)
    assert counts["sample_prompts"] == 1 and counts["train"] == 3 and counts["evaluate_baselines"] == 1
    assert f"{PAPER_RESULTS}/data/sphere/seed0.npz" in out and f"{PAPER_RESULTS}/data/sphere/seed1.npz" not in out


def test_lint_is_clean(tmp_path):
    proc = run_snakemake(REPO, "--lint", configfile=None)
    assert "Lints for" not in proc.stdout, proc.stdout
    assert "good condition" in proc.stdout


def test_snakefmt_clean():
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).parent / "snakefmt"
    exe = str(exe) if exe.exists() else shutil.which("snakefmt")
    assert exe, "snakefmt is part of the test extras"
    files = [str(REPO / "Snakefile"), *map(str, sorted((REPO / "workflow" / "rules").glob("*.smk")))]
    proc = subprocess.run([exe, "--check", *files], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_smoke_tables_schemas(smoke_run):
    tables = smoke_run / SMOKE_RESULTS / "tables"
    for name, columns in TABLE_COLUMNS.items():
        df = pd.read_parquet(tables / f"{name}.parquet")
        assert len(df) > 0, name
        for col, dtype in columns.items():
            assert col in df.columns, f"{name} lacks {col}"
            assert str(df[col].dtype).lower().startswith(dtype[:5]), f"{name}.{col} is {df[col].dtype}, want {dtype}"
    curves = pd.read_parquet(tables / "training_curves.parquet")
    assert set(curves["case"]) == {"subspace", "sphere", "gmm"}
    assert set(curves["model"]) == {"linear", "softmax"}
    assert set(curves["split"]) == {"train", "test"}
    assert curves["mse"].notna().all() and (curves["mse"] > 0).all()
    base = pd.read_parquet(tables / "baselines.parquet")
    for case in ("subspace", "sphere", "gmm"):
        ests = set(base[base["case"] == case]["estimator"])
        assert {"zero", "bayes"} <= ests
    assert "bayes_sigma0_to_0" in set(base[base["case"] == "gmm"]["estimator"])
    # Bayes beats zero on every split it is measured on (Prop. 1: it is the minimum MSE).
    piv = base.pivot_table(index=["case", "seed", "split"], columns="estimator", values="mse")
    both = piv[["bayes", "zero"]].dropna()  # sphere and gmm have no closed-form ("theory") Bayes row
    assert len(both) >= 3 * 2 * 3  # train, test and fresh splits of every (case, seed)
    assert (both["bayes"] < both["zero"]).all()


@pytest.mark.slow
def test_smoke_figure_files(smoke_run):
    for ext in ("pdf", "png"):
        f = smoke_run / SMOKE_RESULTS / "figures" / f"fig3.{ext}"
        assert f.exists() and f.stat().st_size > 10_000, f


@pytest.mark.slow
def test_smoke_rerun_does_nothing(smoke_run):
    out = run_snakemake(smoke_run, "--cores", "2").stdout
    assert "Nothing to be done" in out, out[-2000:]
