"""Figure 5, Figure 6 and the Hopfield iteration study: science glue, tables, plots, config checks, planning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from icdenoise.config import relation_errors
from icdenoise.energy import dam_energy
from icdenoise.io import save_run
from icdenoise.models import scaled_identity_weights, softmax_attention
from icdenoise.studies.alpha_beta_landscape import landscape_tables
from icdenoise.studies.common import heuristic_points, trained_softmax_weights
from icdenoise.studies.dam_energy import dam_energy_tables
from icdenoise.studies.hopfield_iterations import best_settings, iteration_errors, iteration_starts, iteration_table
from icdenoise.tasks import sample_prompts
from workflow_utils import PAPER_CONFIG, SMOKE_RESULTS, job_counts, run_snakemake

CASES = {
    "subspace": dict(d=3, sigma0_2=2.0, sigma_z2=1.0),
    "sphere": dict(d=3, R=1.0, sigma_z2=0.1),
    "gmm": dict(p=3, R=1.0, sigma0_2=0.02, sigma_z2=0.1),
}


def _batch(case, num=48, n=8, L=40, seed=3):
    return sample_prompts(case, num, seed, n=n, L=L, **CASES[case])


def _direct_mse(batch, W_KQ, W_PV):
    X, xq, xt = (torch.as_tensor(a).double() for a in (batch.X, batch.x_query, batch.x_target))
    pred = softmax_attention(X, xq, torch.as_tensor(W_KQ).double(), torch.as_tensor(W_PV).double())
    return float(((pred - xt) ** 2).sum(-1).mean() / X.shape[-1])


def _fake_runs(tmp_path, case="gmm", n=8, signs=(1, -1, 1)):
    """Softmax runs near scaled identities (one per seed, some mirrored) plus a linear run that must be skipped."""
    rng = np.random.default_rng(0)
    paths = []
    for seed, sgn in enumerate(signs):
        W_KQ = sgn * (5.0 + 0.1 * seed) * np.eye(n) + 0.01 * rng.standard_normal((n, n))
        W_PV = sgn * (0.9 + 0.01 * seed) * np.eye(n) + 0.01 * rng.standard_normal((n, n))
        p = tmp_path / f"{case}_softmax_seed{seed}.npz"
        save_run(p, {"W_KQ": W_KQ, "W_PV": W_PV}, {"case": case, "model": "softmax", "seed": seed})
        paths.append(str(p))
    p = tmp_path / f"{case}_linear_seed0.npz"
    save_run(p, {"W_KQ": np.eye(n), "W_PV": np.eye(n)}, {"case": case, "model": "linear", "seed": 0})
    return paths + [str(p)]


# --------------------------------------------------------------------------- heuristics


def test_heuristic_points_per_case():
    sub = heuristic_points("subspace", CASES["subspace"], subspace_beta=0.2)
    assert len(sub) == 1 and sub[0]["alpha"] * sub[0]["beta"] == pytest.approx(1 / 3)
    sph = heuristic_points("sphere", CASES["sphere"], 0.2)
    assert [(p["alpha"], p["beta"]) for p in sph] == [(1.0, pytest.approx(10.0))]
    gmm = heuristic_points("gmm", CASES["gmm"], 0.2)
    assert [p["point"] for p in gmm] == ["heuristic", "heuristic_prop4"]
    assert gmm[0]["beta"] == pytest.approx(10.0) and gmm[1]["beta"] == pytest.approx(1 / 0.12)
    with pytest.raises(ValueError, match="unknown case"):
        heuristic_points("torus", {"sigma_z2": 1.0}, 0.2)


def test_trained_weights_read_softmax_runs_only_and_starts_use_abs(tmp_path):
    trained = trained_softmax_weights(_fake_runs(tmp_path), case="gmm")
    assert [t["seed"] for t in trained] == [0, 1, 2]
    assert trained[1]["alpha"] < 0 and trained[1]["beta"] < 0  # the mirrored seed keeps its sign here
    starts = iteration_starts("gmm", CASES["gmm"], trained, 0.2)
    points = [s["point"] for s in starts]
    assert points == ["heuristic", "heuristic_prop4", "trained_mean", "trained", "trained", "trained"]
    mean = starts[2]
    assert mean["alpha"] == pytest.approx(np.mean([abs(t["alpha"]) for t in trained]))
    assert mean["beta"] == pytest.approx(np.mean([abs(t["beta"]) for t in trained])) and mean["beta"] > 0
    assert trained_softmax_weights(_fake_runs(tmp_path), case="sphere") == []


# --------------------------------------------------------------------------- Figure 5


@pytest.fixture(scope="module")
def fig5():
    return dam_energy_tables(
        R=1.0,
        L=20,
        sigma_z2=0.1,
        alpha=1.0,
        beta=10.0,
        gamma_frac=1.0,
        num_queries=3,
        num_steps=50,
        extent=1.5,
        grid=31,
        seed=0,
    )


def test_fig5_tables_shapes_and_dtypes(fig5):
    tr, en, ctx = fig5["trajectories"], fig5["energy"], fig5["context"]
    assert len(tr) == 3 * 51 and set(tr["step"]) == set(range(51)) and set(tr["query_id"]) == {0, 1, 2}
    assert str(tr["query_id"].dtype) == "int64" and str(tr["x"].dtype) == "float64"
    assert len(en) == 31 * 31 and en["x"].min() == -1.5 and en["y"].max() == 1.5
    assert len(ctx) == 20
    np.testing.assert_allclose(np.hypot(ctx["x"], ctx["y"]), 1.0)  # the context lies on the circle
    targets = tr[tr["step"] == 0]
    np.testing.assert_allclose(np.hypot(targets["target_x"], targets["target_y"]), 1.0)


def test_fig5_one_step_is_attention_and_energy_matches(fig5):
    tr, ctx = fig5["trajectories"], fig5["context"]
    X = torch.as_tensor(ctx[["x", "y"]].to_numpy()).unsqueeze(0)
    s0 = torch.as_tensor(tr[tr["step"] == 0].sort_values("query_id")[["x", "y"]].to_numpy())
    s1 = tr[tr["step"] == 1].sort_values("query_id")[["x", "y"]].to_numpy()
    W_KQ, W_PV = scaled_identity_weights(2, 1.0, 10.0, dtype=torch.float64)
    expected = softmax_attention(X.expand(3, -1, -1), s0, W_KQ, W_PV).numpy()
    np.testing.assert_allclose(s1, expected, atol=1e-12)
    E = dam_energy(s0.unsqueeze(0), X, 1.0, 10.0)[0].numpy()
    np.testing.assert_allclose(tr[tr["step"] == 0].sort_values("query_id")["energy"], E, atol=1e-12)


def test_fig5_energy_never_increases_with_gamma_alpha(fig5):
    """γ = α is the concave-convex (CCCP) update of E: the energy is non-increasing along every trajectory."""
    for _, sub in fig5["trajectories"].groupby("query_id"):
        e = sub.sort_values("step")["energy"].to_numpy()
        assert (np.diff(e) <= 1e-12).all()


def test_fig5_many_steps_leave_the_target(fig5):
    tr = fig5["trajectories"]
    d1 = tr[tr["step"] == 1]["dist_to_target"].mean()
    d50 = tr[tr["step"] == 50]["dist_to_target"].mean()
    assert d1 < d50  # the paper's point: iterating drifts to query-independent minima


# --------------------------------------------------------------------------- iteration study


def test_iteration_table_reference_rows():
    b = _batch("sphere")
    starts = iteration_starts("sphere", CASES["sphere"], [], 0.2)
    df = iteration_table("sphere", b, starts, [0, 1, 3], [0.5, 1.0])
    assert len(df) == 1 * 2 * 3
    noisy = float(((b.x_query.astype(np.float64) - b.x_target) ** 2).sum(-1).mean() / b.X.shape[-1])
    assert (df[df["K"] == 0]["mse"] - noisy).abs().max() < 1e-12
    W_KQ, W_PV = scaled_identity_weights(8, 1.0, 10.0, dtype=torch.float64)
    one = df[(df["K"] == 1) & (df["gamma_over_alpha"] == 1.0)].iloc[0]
    assert one["mse"] == pytest.approx(_direct_mse(b, W_KQ, W_PV), rel=1e-10)
    assert one["delta_vs_one_step"] == 0.0 and one["delta_se"] == 0.0
    row = df[(df["K"] == 3) & (df["gamma_over_alpha"] == 0.5)].iloc[0]
    assert row["delta_vs_one_step"] == pytest.approx(row["mse"] - one["mse"], abs=1e-12)
    assert {str(df[c].dtype) for c in ("case", "point", "weights")} == {"string"}
    assert str(df["K"].dtype) == "int64" and str(df["seed"].dtype) == "int64"


@pytest.mark.parametrize("case", ["subspace", "sphere", "gmm"])
def test_float32_iterations_move_no_mse_beyond_a_small_fraction_of_its_se(case, tmp_path):
    """The study iterates in float32: every MSE and paired difference stays within 2 % of its SE of float64."""
    b = _batch(case, num=200)
    trained = trained_softmax_weights(_fake_runs(tmp_path), case) if case == "gmm" else []
    starts = iteration_starts(case, CASES[case], trained, 0.2)
    args = (case, b, starts, [0, 1, 2, 5, 20], [0.25, 1.0])
    f32, f64 = iteration_table(*args, dtype="float32"), iteration_table(*args, dtype="float64")
    assert (f32["mse"] - f64["mse"]).abs().max() <= 0.02 * f64["mse_se"].min()
    moved = (f32["delta_vs_one_step"] - f64["delta_vs_one_step"]).abs()
    assert (moved <= 0.02 * f64["delta_se"].where(f64["delta_se"] > 0, np.inf)).all()


def test_matrix_start_with_scaled_identities_equals_scalar_start():
    b = _batch("gmm")
    a, be = 0.9, 6.0
    W_KQ, W_PV = scaled_identity_weights(8, a, be, dtype=torch.float64)
    scalar = dict(point="x", seed=-1, weights="scaled_identity", alpha=a, beta=be)
    matrix = dict(point="x", seed=0, weights="matrices", alpha=a, beta=be, W_KQ=W_KQ.numpy(), W_PV=W_PV.numpy())
    for frac in (0.25, 1.0):
        np.testing.assert_allclose(
            iteration_errors(b, scalar, [0, 1, 4], frac), iteration_errors(b, matrix, [0, 1, 4], frac), rtol=1e-10
        )


def test_iteration_table_with_trained_runs(tmp_path):
    b = _batch("gmm")
    trained = trained_softmax_weights(_fake_runs(tmp_path), "gmm")
    df = iteration_table("gmm", b, iteration_starts("gmm", CASES["gmm"], trained, 0.2), [0, 1, 2], [0.5, 1.0])
    per_seed = df[df["point"] == "trained"]
    assert sorted(per_seed["seed"].unique()) == [0, 1, 2] and set(per_seed["weights"]) == {"matrices"}
    one = per_seed[(per_seed["K"] == 1) & (per_seed["gamma_over_alpha"] == 1.0)].set_index("seed")["mse"]
    for t in trained:  # K = 1, γ = α is each seed's trained layer itself
        assert one[t["seed"]] == pytest.approx(_direct_mse(b, t["W_KQ"], t["W_PV"]), rel=1e-10)


def _synthetic(mse_by_setting, se=0.001):
    rows = []
    for (K, f), m in mse_by_setting.items():
        ref = mse_by_setting[(1, 1.0)]
        rows.append(
            dict(
                case="sphere",
                point="heuristic",
                seed=-1,
                K=K,
                gamma_over_alpha=f,
                mse=m,
                delta_vs_one_step=m - ref,
                delta_se=0.0 if (K, f) == (1, 1.0) else se,
            )
        )
    return pd.DataFrame(rows)


def test_best_settings_verdicts():
    best = best_settings(_synthetic({(0, 1.0): 0.1, (1, 1.0): 0.03, (2, 0.5): 0.035}))
    assert best.iloc[0][["K", "gamma_over_alpha"]].tolist() == [1, 1.0] and bool(best.iloc[0]["one_step_best"])
    close = best_settings(_synthetic({(0, 1.0): 0.1, (1, 1.0): 0.03, (2, 0.5): 0.0295}))
    assert close.iloc[0]["K"] == 2 and bool(close.iloc[0]["one_step_best"])  # 0.0005 < 2 SE
    far = best_settings(_synthetic({(0, 1.0): 0.1, (1, 1.0): 0.03, (2, 0.5): 0.02}))
    assert far.iloc[0]["K"] == 2 and not bool(far.iloc[0]["one_step_best"])
    assert far.iloc[0]["gain"] == pytest.approx(0.01)


# --------------------------------------------------------------------------- landscape


def test_landscape_tables_grid_and_points(tmp_path):
    b = _batch("gmm", num=40)
    trained = trained_softmax_weights(_fake_runs(tmp_path), "gmm")
    alphas, betas = np.linspace(0, 2, 7), np.linspace(0, 12, 9)
    grid, pts = landscape_tables("gmm", b, alphas, betas, CASES["gmm"], trained, 0.2)
    assert len(grid) == 63 and list(grid.columns) == ["case", "alpha", "beta", "mse"]
    assert str(grid["mse"].dtype) == "float64" and str(grid["case"].dtype) == "string"
    kinds = pts["kind"].tolist()
    assert kinds.count("heuristic") == 2 and kinds.count("trained") == 3
    assert {"trained_mean", "grid_min", "valley_min"} <= set(kinds)
    gm = pts[pts["kind"] == "grid_min"].iloc[0]
    assert gm["mse"] == pytest.approx(grid["mse"].min(), rel=1e-12)
    assert pts[pts["kind"] == "valley_min"].iloc[0]["mse"] <= gm["mse"] + 1e-12
    tr = pts[pts["kind"] == "trained"].set_index("seed")
    assert tr.loc[1, "flipped"] and not tr.loc[0, "flipped"] and (tr["alpha"] > 0).all() and (tr["beta"] > 0).all()
    h = pts[pts["point"] == "heuristic"].iloc[0]
    W_KQ, W_PV = scaled_identity_weights(8, h["alpha"], h["beta"], dtype=torch.float64)
    assert h["mse"] == pytest.approx(_direct_mse(b, W_KQ, W_PV), rel=1e-8)
    assert pts["inside_grid"].all()
    _, narrow = landscape_tables("gmm", b, alphas, np.linspace(0, 4, 5), CASES["gmm"], trained, 0.2)
    assert not narrow[narrow["point"] == "heuristic"]["inside_grid"].iloc[0]


# --------------------------------------------------------------------------- plots (tables only)


def test_plots_write_pdf_and_png(tmp_path, fig5):
    from icdenoise.io import write_table
    from icdenoise.plotting.alpha_beta_landscape import plot_alpha_beta_landscape
    from icdenoise.plotting.dam_energy import plot_dam_energy
    from icdenoise.plotting.hopfield_iterations import plot_hopfield_iterations

    for name, df in fig5.items():
        write_table(df, tmp_path / f"{name}.parquet")
    plot_dam_energy(
        tmp_path / "trajectories.parquet",
        tmp_path / "energy.parquet",
        tmp_path / "context.parquet",
        tmp_path / "f5.pdf",
        tmp_path / "f5.png",
        panels=[1, 50],
    )
    grids, points, its = [], [], []
    for case in CASES:
        b = _batch(case, num=16)
        g, p = landscape_tables(case, b, np.linspace(0, 2, 5), np.linspace(0, 12, 5), CASES[case], [], 0.2)
        grids.append(g)
        points.append(p)
        its.append(iteration_table(case, b, iteration_starts(case, CASES[case], [], 0.2), [0, 1, 2], [0.5, 1.0]))
    write_table(pd.concat(grids), tmp_path / "grid.parquet")
    write_table(pd.concat(points), tmp_path / "points.parquet")
    write_table(pd.concat(its), tmp_path / "its.parquet")
    base = pd.DataFrame(dict(case=list(CASES), estimator="bayes", split="fresh", mse=[0.3, 0.03, 0.02]))
    write_table(base, tmp_path / "base.parquet")
    plot_alpha_beta_landscape(
        tmp_path / "grid.parquet", tmp_path / "points.parquet", tmp_path / "f6.pdf", tmp_path / "f6.png"
    )
    plot_hopfield_iterations(
        tmp_path / "its.parquet", tmp_path / "base.parquet", tmp_path / "fh.pdf", tmp_path / "fh.png"
    )
    for stem in ("f5", "f6", "fh"):
        for ext in ("pdf", "png"):
            assert (tmp_path / f"{stem}.{ext}").stat().st_size > 5_000


# --------------------------------------------------------------------------- config and planning


def _cfg(**sections):
    base = {
        "n": 16,
        "cases": {c: {} for c in CASES},
        "seeds": [0],
        "hopfield_iterations": {"steps": [0, 1, 2], "gamma_fracs": [0.5, 1.0]},
        "alpha_beta_landscape": {"ranges": {c: {"alpha": [0, 2], "beta": [0, 12]} for c in CASES}},
        "dam_energy": {"R": 1.0, "extent": 1.5},
    }
    base.update(sections)
    return base


def test_relation_errors_for_study_keys():
    assert relation_errors(_cfg()) == []
    errs = relation_errors(_cfg(hopfield_iterations={"steps": [0, 2], "gamma_fracs": [0.5]}))
    assert any("hopfield_iterations.steps" in e for e in errs)
    assert any("hopfield_iterations.gamma_fracs" in e for e in errs)
    ranges = {"subspace": {"alpha": [2, 1], "beta": [0, 1]}, "sphere": {"alpha": [0, 1], "beta": [0, 1]}}
    errs = relation_errors(_cfg(alpha_beta_landscape={"ranges": ranges}))
    assert any("alpha_beta_landscape.ranges.subspace.alpha" in e for e in errs)
    assert any("alpha_beta_landscape.ranges.gmm" in e and "missing" in e for e in errs)
    errs = relation_errors(_cfg(dam_energy={"R": 2.0, "extent": 1.5}))
    assert any("dam_energy.extent" in e for e in errs)


def test_dry_run_plans_study_jobs(tmp_path):
    out = run_snakemake(tmp_path, "-n", "--resources", "gpu=1", configfile=PAPER_CONFIG).stdout
    counts = job_counts(out)
    assert counts["dam_energy_data"] == 1 and counts["plot_dam_energy"] == 1
    # one job for every case (each pays the torch import once), one file per case
    assert counts["hopfield_iterations"] == 1 and counts["gather_hopfield_iterations"] == 1
    assert counts["plot_hopfield_iterations"] == 1
    assert counts["alpha_beta_landscape"] == 1 and counts["gather_alpha_beta_landscape"] == 1
    for c in ("subspace", "sphere", "gmm"):
        assert f"evaluations/hopfield/{c}.parquet" in out and f"evaluations/landscape/{c}_grid.parquet" in out
    assert counts["plot_alpha_beta_landscape"] == 1


@pytest.mark.slow
def test_smoke_study_tables_and_figures(smoke_run):
    tables = smoke_run / SMOKE_RESULTS / "tables"
    expected = {
        "hopfield_trajectories": ["query_id", "step", "x", "y", "energy"],
        "fig5_energy": ["x", "y", "energy"],
        "fig5_context": ["token", "x", "y"],
        "hopfield_iterations": ["case", "point", "seed", "gamma_over_alpha", "gamma", "K", "mse", "delta_vs_one_step"],
        "landscape": ["case", "alpha", "beta", "mse"],
        "landscape_points": ["case", "kind", "point", "seed", "alpha", "beta", "mse", "flipped", "inside_grid"],
    }
    for name, cols in expected.items():
        df = pd.read_parquet(tables / f"{name}.parquet")
        assert len(df) and set(cols) <= set(df.columns), name
    its = pd.read_parquet(tables / "hopfield_iterations.parquet")
    assert set(its["case"]) == set(CASES) and {"heuristic", "trained_mean", "trained"} <= set(its["point"])
    for stem in ("fig5", "fig6", "fig_hopfield_iterations"):
        for ext in ("pdf", "png"):
            assert (smoke_run / SMOKE_RESULTS / "figures" / f"{stem}.{ext}").stat().st_size > 10_000
