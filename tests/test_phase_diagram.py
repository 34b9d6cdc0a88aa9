"""Phase diagram (icdenoise.studies.phase_diagram, claims.phase_diagram, the rules, the SLURM dry run, the notebook).

The study's functions run on tiny grids without Snakemake; one test builds ``snakemake phase_diagram`` on the smoke
config in a fresh folder and executes examples/phase_diagram.ipynb on its tables.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd
import pytest
import yaml

from icdenoise.bayes import bayes_mse_subspace, linear_attention_gamma_star
from icdenoise.claims import phase_diagram as pclaims
from icdenoise.config import ConfigError, prepare_config
from icdenoise.runs import plan_runs
from icdenoise.studies import phase_diagram as pdg
from workflow_utils import PAPER_CONFIG, REPO, SMOKE_CONFIG, SMOKE_RESULTS, job_counts, run_snakemake

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def _config(extra=None, base=SMOKE_CONFIG) -> dict:
    """A prepared config: config.yaml merged with ``base`` (as Snakemake merges them), then ``extra``."""
    cfg = yaml.safe_load(PAPER_CONFIG.read_text())
    if base != PAPER_CONFIG:
        _merge(cfg, yaml.safe_load(base.read_text()))
    _merge(cfg, extra or {})
    prepare_config(cfg, SCHEMA)
    return cfg


def _merge(a: dict, b: dict) -> None:
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(a.get(k), dict):
            _merge(a[k], v)
        else:
            a[k] = v


def _problems(grids: dict) -> str:
    with pytest.raises(ConfigError) as err:
        _config({"phase_diagram": {"grids": grids}})
    return str(err.value)


# ----------------------------------------------------------------------------- the grid


def test_default_grid_is_sigma_by_L_per_case_in_blocks_of_one_L():
    cfg = _config(base=PAPER_CONFIG)
    for case in ("subspace", "sphere", "gmm"):
        pts = pdg.grid_points(cfg, case)
        assert len(pts) == 25
        assert {dict(p)["L"] for p in pts} == {125, 250, 500, 1000, 2000}
    blocks = pdg.blocks(cfg)
    assert len(blocks) == 15 and all(len(p) == 5 for p in blocks.values())
    assert {b for _, b in blocks} == {f"L{L}_0" for L in (125, 250, 500, 1000, 2000)}
    # one ensemble per point: 2 models x 3 seeds; 30 runs per job
    assert len(pdg.block_runs(cfg, "sphere", "L2000_0")) == 30
    assert pdg.block_cost(cfg, "sphere", "L2000_0") > pdg.block_cost(cfg, "sphere", "L125_0")


def test_points_folders_and_applied_values():
    cfg = _config()
    pts = pdg.grid_points(cfg, "gmm")  # smoke: sigma_z2 x L, then one explicit point
    assert [pdg.point_folder("gmm", p) for p in pts] == ["sigma_z2=0.1/L=40", "sigma_z2=0.2/L=40", "L=20/sigma_z2=0.1"]
    at = pdg.apply_point(cfg, pts[2])
    assert at["L"] == 20 and at["cases"]["gmm"]["sigma_z2"] == 0.1 and cfg["L"] == 40  # a copy
    s = pdg.point_settings(cfg, "gmm", pts[1])
    assert s["sigma_z2"] == 0.2 and s["L"] == 40 and s["p"] == 3 and math.isnan(s["d"])
    assert pdg.format_value(2.0) == "2" and pdg.format_value(0.025) == "0.025" and pdg.format_value(500) == "500"


def test_point_at_the_configs_own_values_plans_figure3s_runs():
    """The same seeds and settings as Figure 3 (only the evaluation schedule differs): that point is Figure 3."""
    cfg = _config()
    point = (("cases.sphere.sigma_z2", cfg["cases"]["sphere"]["sigma_z2"]), ("L", cfg["L"]))
    mine = pdg.point_runs(cfg, "sphere", point)
    fig3 = plan_runs(cfg, "training_dynamics", case="sphere", models=cfg["phase_diagram"]["models"], seeds=[0, 1])
    assert [r.seeds for r in mine] == [r.seeds for r in fig3]
    for a, b in zip(mine, fig3, strict=True):
        assert {k: v for k, v in a.settings.items() if k not in ("eval_every", "progress")} == b.settings
    # another point: other data (its own sigma_z2), the same training seed recipe
    other = pdg.point_runs(cfg, "sphere", (("cases.sphere.sigma_z2", 0.4), ("L", cfg["L"])))
    assert other[0].settings["case_params"]["sigma_z2"] == 0.4 and other[0].tags == {"point": "sigma_z2=0.4/L=40"}


# ----------------------------------------------------------------------------- validation


def test_validation_names_unknown_keys_and_non_axes():
    text = _problems({"sphere": {"axes": {"cases.sphere.foo": [1]}}, "gmm": {"axes": {"cases.sphere.d": [2]}}})
    assert "phase_diagram.grids.sphere' has axis 'cases.sphere.foo', which is unknown" in text
    assert "phase_diagram.grids.gmm' has axis 'cases.sphere.d', which is no axis of gmm" in text
    assert "seeds" in _problems({"subspace": {"points": [{"seeds": 3}]}})


def test_validation_names_refused_values_and_broken_relations_at_their_point():
    text = _problems({"sphere": {"axes": {"L": [20, 0], "cases.sphere.d": [3, 8]}}})
    at = "phase_diagram.grids.sphere at the point (cases.sphere.sigma_z2=0.1, L=0, cases.sphere.d=3)"
    assert at + " and 1 other point(s) of 4" in text
    assert "config key 'L' = 0 is out of range; allowed: an integer >= 1" in text
    assert (
        "(cases.sphere.sigma_z2=0.1, L=20, cases.sphere.d=8)" in text and "'cases.sphere.d' = 8 must be < n = 8" in text
    )
    text = _problems({"subspace": {"points": [{"n_train": 8}]}})  # batch 16 > 8 training prompts
    assert "(n_train=8)" in text and "train.batch_size" in text
    assert "has the wrong type" in _problems({"gmm": {"axes": {"cases.gmm.sigma_z2": ["x"]}}})


def test_the_whole_grid_is_checked_before_any_job(tmp_path):
    """A bad point stops the dry run at planning, naming the point (no job is started)."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("phase_diagram:\n  grids:\n    subspace:\n      points: [{cases.subspace.d: 9}]\n")
    args = ("phase_diagram", "-n", "--configfile", str(SMOKE_CONFIG), str(bad))
    out = run_snakemake(tmp_path, *args, configfile=None, check=False)
    assert out.returncode != 0
    assert "phase_diagram.grids.subspace at the point (cases.subspace.d=9)" in out.stdout, out.stdout[-3000:]
    assert "must be < n = 8" in out.stdout


# ----------------------------------------------------------------------------- a tiny study, no Snakemake


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 2-point subspace grid and 1-point gmm grid (n = 6, 2 seeds, 8 epochs), trained, evaluated, gathered."""
    d = tmp_path_factory.mktemp("pd")
    cfg = _config(
        {
            "n": 6,
            "n_train": 48,
            "dim_shift": {"enabled": False},
            "gap_study": {"N": [48]},
            "n_test": 16,
            "cases": {"subspace": {"d": 2, "epochs": 8}, "gmm": {"p": 2, "epochs": 8}},
            "phase_diagram": {
                "grids": {
                    "subspace": {"axes": {"cases.subspace.sigma_z2": None, "L": [12, 30]}},
                    "gmm": {"axes": None, "points": [{"L": 12}]},
                    "sphere": None,
                },
                "seeds": [0, 1],
                "fresh_prompts": 50,
                "landscape_prompts": 20,
            },
        }
    )
    runs, refs = [], []
    for case, block in pdg.blocks(cfg):
        r, f = str(d / f"{case}_{block}_runs.parquet"), str(d / f"{case}_{block}_refs.parquet")
        pdg.train_phase_diagram(
            r,
            f,
            case=case,
            points=pdg.job_points(cfg, case, block),
            runs=[x.to_param() for x in pdg.block_runs(cfg, case, block)],
            fresh_prompts=50,
            landscape_prompts=20,
            beta_bounds=cfg["phase_diagram"]["scaled_identity_beta"][case],
            device="cpu",
        )
        runs.append(r)
        refs.append(f)
    out = {k: str(d / f"{k}.parquet") for k in ("table", "runs", "checks", "summary")}
    tol = {**cfg["claims"]["tolerances"], **cfg["phase_diagram"]["tolerances"]}
    pdg.gather_phase_diagram(runs, refs, *out.values(), str(d / "points"), tolerances=tol)
    return cfg, d, {k: pd.read_parquet(v) for k, v in out.items()}


def test_tiny_grid_tables(tiny):
    cfg, d, t = tiny
    table, runs = t["table"], t["runs"]
    assert len(runs) == 3 * 2 * 2  # points x models x seeds
    assert list(table.columns) == list(pdg.TABLE_COLUMNS)
    sub = table[(table["case"] == "subspace")].set_index(["L", "model"])
    for L in (12, 30):
        r = sub.loc[(L, "linear")]
        assert r["gamma_star"] == pytest.approx(linear_attention_gamma_star(L, 2, 2.0, 1.0))
        assert (
            r["bayes_mse"] == pytest.approx(bayes_mse_subspace(6, 2, 2.0, 1.0)) and r["bayes_source"] == "closed form"
        )
        assert r["test_ratio"] == pytest.approx(r["test_mse"] / r["bayes_mse"])
        assert np.isfinite(r["scaled_identity_mse"]) and r["scaled_identity_beta"] == 1.0  # linear: the exact γ
    g = table[table["case"] == "gmm"].iloc[0]
    assert g["beta_heuristic"] == pytest.approx(1 / 0.1) and g["beta_prop4"] == pytest.approx(1 / 0.12)
    assert g["bayes_source"] == "fresh prompts" and g["bayes_mse"] == g["bayes_mc"]
    # one readable folder per point with its rows and settings
    point = d / "points" / "subspace" / "L=30"
    assert sorted(p.name for p in point.iterdir()) == [
        "checks.parquet",
        "point.yaml",
        "runs.parquet",
        "summary.parquet",
    ]
    assert yaml.safe_load((point / "point.yaml").read_text())["settings"]["L"] == 30
    assert len(pd.read_parquet(point / "runs.parquet")) == 4


def test_tiny_grid_checks_and_summary(tiny):
    _, _, t = tiny
    checks, summary = t["checks"], t["summary"]
    kinds = set(zip(checks["statement"], checks["case"], checks["model"], strict=True))
    assert ("alphabeta_gamma_star", "subspace", "linear") in kinds
    assert ("bayes_mc_closed_form", "subspace", "oracle") in kinds
    assert ("gmm_beta_below", "gmm", "softmax") in kinds
    assert len(checks[checks["statement"] == "bayes_mc_closed_form"]) == 2  # once per point, not per model
    near = checks[checks["statement"] == "near_bayes"]
    assert (near["holds"] == (near["value"] <= near["reference"] + near["tolerance"])).all()
    row = summary.set_index(["statement", "case", "model"]).loc[("near_bayes", "subspace", "linear")]
    assert row["points"] == 2 and row["fraction"] == row["holds"] / 2


def test_checks_can_fail():
    """Each per-point statement turns False when its measured value leaves the reference's tolerance."""
    s = dict(zip(pdg.SETTINGS_COLUMNS, [6, 12, 48, 16, 8, 16, 0.01, 2.0, np.nan, np.nan, 2.0, 1.0], strict=True))
    base = dict(case="subspace", point="L=12", **s, seeds=3, test_se=0.001, fresh_mse=0.4, fresh_se=0.01,
                bayes_se=0.0, bayes_source="closed form", fresh_ratio=1.0, abs_alpha=1.0, abs_beta=1.0,
                abs_beta_max=1.0, fresh_prompts=1000, scaled_identity_alpha=1.0, scaled_identity_beta=1.0,
                scaled_identity_mse=0.4, scaled_identity_se=0.01, finite_L_mse=0.4, beta_heuristic=np.nan,
                beta_prop4=np.nan)  # fmt: skip
    g = linear_attention_gamma_star(12, 2, 2.0, 1.0)
    b = bayes_mse_subspace(6, 2, 2.0, 1.0)
    rows = [
        dict(base, model="linear", test_mse=b * 1.05, bayes_mse=b, test_ratio=1.05, alpha_beta=g + 0.001,
             alpha_beta_se=0.001, bayes_mc=b + 0.001, bayes_mc_se=0.001, bayes_theory=b, gamma_star=g),
        dict(base, point="L=30", model="linear", test_mse=b * 1.2, bayes_mse=b, test_ratio=1.2, alpha_beta=g + 0.01,
             alpha_beta_se=0.001, bayes_mc=b + 0.01, bayes_mc_se=0.001, bayes_theory=b, gamma_star=g),
        dict(base, case="gmm", model="softmax", test_mse=b, bayes_mse=b, test_ratio=1.0, alpha_beta=1.0,
             alpha_beta_se=0.1, bayes_mc=b, bayes_mc_se=0.001, bayes_theory=np.nan, gamma_star=np.nan,
             abs_beta_max=10.5, beta_heuristic=10.0),
    ]  # fmt: skip
    table = pd.DataFrame(rows, columns=list(pdg.TABLE_COLUMNS)).astype(pdg.TABLE_COLUMNS)
    tol = {k: {"value": v, "reason": "test"} for k, v in dict(k_seed=3, k_mc=3, float_rel=1e-9, near_bayes=0.1).items()}
    checks = pclaims.check_points(table, tol)
    held = {(r.statement, r.point): r.holds for r in checks.itertuples()}
    assert held[("alphabeta_gamma_star", "L=12")] and not held[("alphabeta_gamma_star", "L=30")]
    assert held[("bayes_mc_closed_form", "L=12")] and not held[("bayes_mc_closed_form", "L=30")]
    assert held[("near_bayes", "L=12")] is True and not held[("near_bayes", "L=30")]
    assert not held[("gmm_beta_below", "L=12")]
    summary = pclaims.summarise_checks(checks)
    ab = summary[summary["statement"] == "alphabeta_gamma_star"].iloc[0]
    assert (ab["holds"], ab["points"], ab["fraction"]) == (1, 2, 0.5)
    # the claims rows: reproduced only where a statement holds at every point
    rows = pclaims.claims({"phase_diagram_summary": summary, "phase_diagram_checks": checks}, {}, None, None)
    verdicts = {r["id"]: r["verdict"] for r in rows}
    assert verdicts["phase_diagram_alphabeta_gamma_star_subspace_linear"] == "not reproduced"
    assert "L=30" in next(r["note"] for r in rows if r["id"] == "phase_diagram_alphabeta_gamma_star_subspace_linear")
    assert pclaims.claims({}, {}, None, None) == []


# ----------------------------------------------------------------------------- the workflow


def test_rule_is_opt_in_and_plans_one_job_per_block(tmp_path):
    out = run_snakemake(tmp_path, "phase_diagram", "-n", "--configfile", str(PAPER_CONFIG), configfile=None).stdout
    counts = job_counts(out)
    assert counts["train_phase_diagram"] == 15 and counts["gather_phase_diagram"] == 1
    assert "train_phase_diagram" not in job_counts(run_snakemake(tmp_path, "-n").stdout)
    on = run_snakemake(tmp_path, "-n", "--config", "phase_diagram__enabled=true").stdout
    assert job_counts(on)["plot_phase_diagram"] == 1 and job_counts(on)["train_phase_diagram"] == 6


def test_slurm_dry_run_shows_the_sweeps_jobs_with_their_gpu(tmp_path):
    """`snakemake --profile profiles/slurm -n phase_diagram`: every block job requests one GPU (set-resources)."""
    pytest.importorskip("snakemake_executor_plugin_slurm")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_"))}
    out = run_snakemake(tmp_path, "--profile", str(REPO / "profiles" / "slurm"), "-n", "phase_diagram", env=env)
    jobs = out.stdout.split("rule ")[1:]  # one job per piece: "<rule>:\n    output: ...\n    resources: ..."
    blocks = [j for j in jobs if j.startswith("train_phase_diagram:")]
    assert len(blocks) == 6 and all("gpu=1" in b for b in blocks), out.stdout[-3000:]
    gather = [j for j in jobs if j.startswith("gather_phase_diagram:")]
    assert len(gather) == 1 and "gpu=" not in gather[0]


def test_smoke_phase_diagram_and_the_notebook(tmp_path):
    """`snakemake phase_diagram` on the smoke config, from an empty folder; the point at the config's own values
    gives the Figure 3 runs' test MSEs bit for bit; examples/phase_diagram.ipynb runs on these tables."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    tw = f"{SMOKE_RESULTS}/tables/trained_weights.parquet"
    run_snakemake(tmp_path, "phase_diagram", tw, "--cores", "2", "--configfile", str(SMOKE_CONFIG), configfile=None)
    res = tmp_path / SMOKE_RESULTS
    table = pd.read_parquet(res / "tables" / "phase_diagram.parquet")
    fig3 = pd.read_parquet(res / "tables" / "trained_weights.parquet")
    at = table[(table["case"] == "sphere") & (table["point"] == "sigma_z2=0.1/L=40")].set_index("model")["test_mse"]
    ref = fig3[fig3["case"] == "sphere"].groupby("model")["test_mse"].mean()
    assert at.to_dict() == ref.to_dict()
    assert (res / "phase_diagram" / "subspace" / "sigma_z2=0.5" / "L=20" / "point.yaml").exists()
    assert (res / "figures" / "fig_phase_diagram.png").stat().st_size > 10_000
    nb = nbformat.read(REPO / "examples" / "phase_diagram.ipynb", as_version=4)
    old = os.environ.get("ICDENOISE_RESULTS")
    os.environ["ICDENOISE_RESULTS"] = str(res)
    try:
        nbclient.NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}
        ).execute()
    finally:
        os.environ.pop("ICDENOISE_RESULTS") if old is None else os.environ.__setitem__("ICDENOISE_RESULTS", old)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "folder:" in text and "beta_heuristic" in text
    assert nb.cells[-1].outputs, "the point query printed nothing"
