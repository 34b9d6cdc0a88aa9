"""Figure 4a (context_sweep) and 4b (dim_shift): study and plotting modules, and their rules.

Unit tests run tiny settings (n = 8, a few dozen prompts) in-process; the workflow tests plan the
paper-scale jobs (dry run) and check the smoke run's Figure 4 tables and figures.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from icdenoise.bayes import bayes_mse_subspace, linear_attention_finite_L_mse, linear_attention_gamma_star
from icdenoise.config import ConfigError, check_config
from icdenoise.io import load_run, read_table, save_run
from icdenoise.models import attention, scaled_identity_weights
from icdenoise.runs import Run, train_job
from icdenoise.studies import common, context_sweep, dim_shift
from icdenoise.tasks import sample_prompts
from icdenoise.train import TrainConfig, train
from workflow_utils import PAPER_CONFIG, PAPER_RESULTS, REPO, SMOKE_RESULTS, job_counts, run_snakemake

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
SUB = dict(d=3, sigma0_2=2.0, sigma_z2=1.0)
SETTINGS = dict(batch_size=16, lr=0.01, lr_milestones=[0.8, 0.9], lr_gamma=0.1)


# --------------------------------------------------------------------------- models


def test_initial_weights_are_the_runs_own_initialisation():
    """The "untrained" model is exactly the weights train() starts from (epoch-0 α, β match)."""
    batch = sample_prompts("subspace", 40, 1, n=8, L=10, **SUB)
    res = train(
        batch.subset(slice(0, 32)),
        batch.subset(slice(32, None)),
        TrainConfig(model="linear", epochs=1, batch_size=16, seed=1234),
    )
    W_KQ, W_PV = common.initial_weights(8, 1234)
    assert W_KQ.shape == W_PV.shape == (8, 8) and W_KQ.dtype == np.float32
    assert np.mean(np.diag(W_PV)) == pytest.approx(res.alpha[0], abs=1e-7)
    assert np.mean(np.diag(W_KQ)) == pytest.approx(res.beta[0], abs=1e-7)
    assert np.abs(W_KQ).max() <= 1 / np.sqrt(8)
    # and the untrained error equals the trainer's epoch-0 test error
    test = batch.subset(slice(32, None))
    mse = common.model_mse("linear", test.X, test.x_query, test.x_target, W_KQ, W_PV)
    assert mse.mean() == pytest.approx(res.test_mse[0], rel=1e-5)


@pytest.mark.parametrize("model", ["linear", "softmax"])
def test_model_mse_matches_the_attention_models_and_is_chunk_independent(model):
    batch = sample_prompts("sphere", 37, 2, n=8, L=12, d=3, R=1.0, sigma_z2=0.1)
    rng = np.random.default_rng(0)
    W_KQ, W_PV = rng.normal(size=(8, 8)) * 0.3, rng.normal(size=(8, 8)) * 0.3
    pred = (
        attention(
            model,
            torch.from_numpy(batch.X),
            torch.from_numpy(batch.x_query),
            torch.tensor(W_KQ, dtype=torch.float32),
            torch.tensor(W_PV, dtype=torch.float32),
        )
        .double()
        .numpy()
    )
    want = ((pred - batch.x_target) ** 2).mean(-1)
    for chunk in (5, 250):
        got = common.model_mse(model, batch.X, batch.x_query, batch.x_target, W_KQ, W_PV, chunk=chunk)
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_model_mse_of_gamma_star_identity_matches_finite_L_theory():
    """Linear attention with W_KQ = I, W_PV = γ*(L) I on fresh prompts gives the closed-form MSE (within 4 SE)."""
    n, L = 8, 15
    batch = sample_prompts("subspace", 4000, 3, n=n, L=L, **SUB)
    g = linear_attention_gamma_star(L, SUB["d"], SUB["sigma0_2"], SUB["sigma_z2"])
    W_KQ, W_PV = (w.numpy() for w in scaled_identity_weights(n, alpha=g, beta=1.0))
    per = common.model_mse("linear", batch.X, batch.x_query, batch.x_target, W_KQ, W_PV)
    mean, se = common.mean_se(per)
    assert abs(mean - linear_attention_finite_L_mse(L, n, SUB["d"], SUB["sigma0_2"], SUB["sigma_z2"])) < 4 * se


# --------------------------------------------------------------------------- Fig. 4a


def _cs_run(model, L, seed, train_seed, data_seed, epochs=3) -> dict:
    """A planned Figure 4a run (the run layer's value) with the given seeds, as a rule passes it."""
    settings = dict(n=8, L=L, epochs=epochs, n_train=48, n_test=16, case_params=SUB, train=SETTINGS)
    return Run(
        "context_sweep",
        "subspace",
        model,
        seed,
        settings,
        tags={"L": L},
        seeds={"data": data_seed, "train": train_seed},
    ).to_param()


def _sweep_run(tmp_path, L, seed, models=("linear", "softmax"), fresh=50, epochs=3):
    outs = {m: str(tmp_path / f"L{L}" / m / f"seed{seed}.npz") for m in models}
    runs = [_cs_run(m, L, seed, 7 + i, 100 + L + seed, epochs) for i, m in enumerate(models)]
    records = context_sweep.train_context_sweep(
        list(outs.values()), runs=runs, fresh_prompts=fresh, fresh_seeds={L: 200 + L}, device="cpu"
    )
    return outs, {m: r.meta for m, r in zip(models, records, strict=True)}


def test_train_context_sweep_batches_seeds_of_one_L_and_matches_solo_runs(tmp_path):
    """Several L values and seeds in one job: each L's seeds are one ensemble; each run equals its solo run."""
    runs = [_cs_run("softmax", L, s, 40 + s, 300 + L + s) for L in (6, 9) for s in (0, 1)]
    outs = [str(tmp_path / f"L{r['tags']['L']}_s{r['seed']}.npz") for r in runs]
    metas = [
        r.meta for r in context_sweep.train_context_sweep(outs, runs=runs, fresh_prompts=20, fresh_seeds={6: 1, 9: 2})
    ]
    assert [m["ensemble_size"] for m in metas] == [2, 2, 2, 2]
    solo = [
        r.meta
        for r in context_sweep.train_context_sweep(
            [str(tmp_path / "solo.npz")], runs=runs[3:], fresh_prompts=20, fresh_seeds={9: 2}
        )
    ]
    a, _ = load_run(outs[3])
    b, _ = load_run(str(tmp_path / "solo.npz"))
    np.testing.assert_allclose(a["W_KQ"], b["W_KQ"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(a["test_mse"], b["test_mse"], rtol=1e-5)
    assert solo[0]["ensemble_size"] == 1 and metas[3]["fresh_mse"] == pytest.approx(solo[0]["fresh_mse"], rel=1e-5)


def test_train_context_sweep_writes_one_run_per_model(tmp_path):
    outs, metas = _sweep_run(tmp_path, L=12, seed=0)
    for model, path in outs.items():
        arrays, meta = load_run(path)
        assert meta["model"] == model and meta["L"] == 12 and meta["study"] == "context_sweep"
        assert meta["prompt_params"]["L"] == 12 and meta["prompt_params"]["d"] == SUB["d"]
        assert len(arrays["train_mse"]) == 4 and np.isfinite(meta["fresh_mse"]) and meta["fresh_mse_se"] > 0
        assert meta["train_seed"] == metas[model]["train_seed"]
    # both models train on the same dataset
    assert metas["linear"]["data_seed"] == metas["softmax"]["data_seed"]


def test_train_context_sweep_is_reproducible(tmp_path):
    a, _ = _sweep_run(tmp_path / "a", L=10, seed=1, models=("linear",))
    b, _ = _sweep_run(tmp_path / "b", L=10, seed=1, models=("linear",))
    ra, ma = load_run(a["linear"])
    rb, mb = load_run(b["linear"])
    np.testing.assert_array_equal(ra["W_KQ"], rb["W_KQ"])
    assert ma["fresh_mse"] == mb["fresh_mse"]


def test_context_sweep_without_fresh_prompts(tmp_path):
    outs, metas = _sweep_run(tmp_path, L=10, seed=0, models=("linear",), fresh=0)
    assert np.isnan(metas["linear"]["fresh_mse"])


def test_gather_context_sweep_tables(tmp_path):
    for L in (10, 14):
        for seed in (0, 1):
            _sweep_run(tmp_path / "runs", L=L, seed=seed, epochs=2)
    runs = sorted(str(p) for p in (tmp_path / "runs").rglob("*.npz"))
    context_sweep.gather_context_sweep(runs, tmp_path / "t.parquet", tmp_path / "th.parquet")
    df = read_table(tmp_path / "t.parquet")
    assert len(df) == 8
    for col, dtype in context_sweep.CONTEXT_SWEEP_COLUMNS.items():
        assert str(df[col].dtype).lower().startswith(dtype[:5]), (col, df[col].dtype)
    np.testing.assert_allclose(df["alpha_beta"], df["alpha"] * df["beta"])
    assert (df["min_test_mse"] <= df["test_mse"] + 1e-12).all()
    th = read_table(tmp_path / "th.parquet")
    assert th["L"].tolist() == list(range(10, 15))
    row = th.set_index("L").loc[14]
    assert row["gamma_star"] == pytest.approx(14 / (3.0 * (14 + 3 + 1)))
    assert row["finite_L_mse"] == pytest.approx(linear_attention_finite_L_mse(14, 8, 3, 2.0, 1.0))
    assert row["bayes_mse"] == pytest.approx(bayes_mse_subspace(8, 3, 2.0, 1.0))
    assert row["zero_mse"] == pytest.approx(3 * 2.0 / 8)


def test_gather_context_sweep_rejects_mixed_settings(tmp_path):
    outs, _ = _sweep_run(tmp_path, L=10, seed=0, models=("linear",), epochs=1)
    arrays, meta = load_run(outs["linear"])
    meta["prompt_params"]["d"] = 2
    save_run(tmp_path / "other.npz", arrays, meta)
    with pytest.raises(ValueError, match="differ"):
        context_sweep.gather_context_sweep(
            [outs["linear"], str(tmp_path / "other.npz")], tmp_path / "t.parquet", tmp_path / "th.parquet"
        )


def test_paper_gamma_star_values():
    """γ*(L) = L/((σ0²+σZ²)(L+d+1)) at the paper's settings: the numbers the issue quotes."""
    assert linear_attention_gamma_star(500, 8, 2.0, 1.0) == pytest.approx(0.32744, abs=5e-6)
    assert linear_attention_gamma_star(20, 8, 2.0, 1.0) == pytest.approx(20 / 87)
    assert linear_attention_gamma_star(19, 8, 2.0, 1.0) == pytest.approx(0.2262, abs=1e-4)  # experiments.md's 0.226


# --------------------------------------------------------------------------- Fig. 4b


def test_shifted_params():
    base = dict(case="gmm", n=8, L=40, p=3, R=1.0, sigma0_2=0.02, sigma_z2=0.1, seed=4)
    assert dim_shift.shifted_params("gmm", base, 7) == dict(p=7, R=1.0, sigma0_2=0.02, sigma_z2=0.1)
    assert dim_shift.shifted_params("subspace", dict(d=8, sigma0_2=2.0, sigma_z2=1.0, n=16), 3)["d"] == 3


@pytest.fixture(scope="module")
def dim_shift_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("ds") / "run.npz"
    settings = dict(
        n=8, L=30, epochs=20, n_train=400, n_test=100, case_params=SUB, train={**SETTINGS, "lr_milestones": []}
    )
    run = Run("dim_shift", "subspace", "linear", 0, settings, seeds={"data": 11, "train": 12})
    train_job([str(path)], runs=[run.to_param()], device="cpu")
    return path


def test_train_dim_shift_constant_lr(dim_shift_run):
    arrays, meta = load_run(dim_shift_run)
    assert meta["case"] == "subspace" and meta["model"] == "linear" and meta["prompt_params"]["L"] == 30
    assert np.all(arrays["lr"] == SETTINGS["lr"])  # no decay
    assert arrays["test_mse"][-1] < arrays["test_mse"][0]


def test_evaluate_dim_shift_rows(dim_shift_run, tmp_path):
    out = tmp_path / "eval.json"
    rows = dim_shift.evaluate_dim_shift(
        [str(dim_shift_run)],
        str(out),
        case="subspace",
        eval_values=[1, 3, 6],
        L_eval=[5, 30],
        eval_prompts=200,
        eval_seed=5,
    )
    assert json.loads(out.read_text())["rows"] == rows
    df = pd.DataFrame(rows)
    assert len(df) == 3 * 2 * 2
    assert set(df["model_state"]) == {"trained", "untrained"} and set(df["param"]) == {"d"}
    assert (df["train_value"] == 3).all() and (df["train_L"] == 30).all() and (df["n"] == 8).all()
    piv = df.pivot_table(index=["eval_value", "L"], columns="model_state", values="mse")
    assert (piv["trained"] < piv["untrained"]).all()
    # at the training setting the trained model is near Bayes (small model, finite L: within 60 %)
    at_train = piv.loc[(3, 30), "trained"]
    assert bayes_mse_subspace(8, 3, 2.0, 1.0) < at_train < 1.6 * bayes_mse_subspace(8, 3, 2.0, 1.0)
    # more context helps
    assert (piv.xs(30, level="L")["trained"] < piv.xs(5, level="L")["trained"]).all()
    # deterministic
    rows2 = dim_shift.evaluate_dim_shift(
        [str(dim_shift_run)],
        str(tmp_path / "e2.json"),
        case="subspace",
        eval_values=[1, 3, 6],
        L_eval=[5, 30],
        eval_prompts=200,
        eval_seed=5,
    )
    assert rows2 == rows


def test_evaluate_dim_shift_uses_nested_prompts_across_L(dim_shift_run, tmp_path):
    """With L = L_max the result equals a direct evaluation on the sampled prompts (same seed derivation)."""
    rows = dim_shift.evaluate_dim_shift(
        [str(dim_shift_run)],
        str(tmp_path / "e.json"),
        case="subspace",
        eval_values=[2],
        L_eval=[30, 4],
        eval_prompts=50,
        eval_seed=9,
    )
    arrays, meta = load_run(dim_shift_run)
    from icdenoise.tasks import derive_seed

    batch = sample_prompts("subspace", 50, derive_seed(9, "d", 2), n=8, L=30, d=2, sigma0_2=2.0, sigma_z2=1.0)
    for L in (4, 30):
        want = common.model_mse("linear", batch.X[:, :L], batch.x_query, batch.x_target, arrays["W_KQ"], arrays["W_PV"])
        got = [r["mse"] for r in rows if r["L"] == L and r["model_state"] == "trained"]
        assert got == [pytest.approx(want.mean(), rel=1e-12)]


def test_evaluate_dim_shift_rejects_wrong_case(dim_shift_run, tmp_path):
    with pytest.raises(ValueError, match="case"):
        dim_shift.evaluate_dim_shift(
            [str(dim_shift_run)],
            str(tmp_path / "e.json"),
            case="sphere",
            eval_values=[2],
            L_eval=[5],
            eval_prompts=10,
            eval_seed=1,
        )


def test_dim_shift_oracles_subspace_closed_form(tmp_path):
    dim_shift.dim_shift_oracles(
        str(tmp_path / "o.parquet"),
        case="subspace",
        base_params=dict(SUB),
        n=8,
        eval_values=[1, 5],
        num_prompts=10,
        seed=0,
    )
    df = read_table(tmp_path / "o.parquet")
    b = df[df["estimator"] == "bayes"].set_index("eval_value")["mse"]
    assert b.loc[5] == pytest.approx(5 / 8 * 2 / 3)
    # per subspace dimension the Bayes MSE is the constant σ0²σZ²/(σ0²+σZ²) = 2/3 (the Fig. 4b line)
    np.testing.assert_allclose(b.to_numpy() * 8 / b.index.to_numpy(), 2 / 3)
    z = df[df["estimator"] == "zero"].set_index("eval_value")["mse"]
    np.testing.assert_allclose(z.to_numpy() * 8 / z.index.to_numpy(), 2.0)


@pytest.mark.parametrize(
    "case,base,values",
    [
        ("sphere", dict(d=3, R=1.0, sigma_z2=0.1), [1, 4, 7]),
        ("gmm", dict(p=3, R=1.0, sigma0_2=0.02, sigma_z2=0.1), [1, 3, 12]),
    ],
)
def test_dim_shift_oracles_monte_carlo(tmp_path, case, base, values):
    dim_shift.dim_shift_oracles(
        str(tmp_path / "o.parquet"), case=case, base_params=base, n=8, eval_values=values, num_prompts=3000, seed=1
    )
    df = read_table(tmp_path / "o.parquet")
    for col, dtype in dim_shift.DIM_SHIFT_ORACLE_COLUMNS.items():
        assert str(df[col].dtype).lower().startswith(dtype[:5])
    bayes = df[df["estimator"] == "bayes"].set_index("eval_value")
    zero = df[(df["estimator"] == "zero") & (df["source"] == "theory")].set_index("eval_value")["mse"]
    assert (bayes["mse"] < zero.loc[bayes.index]).all() and (bayes["mse_se"] > 0).all()
    # the task gets harder as the shifted dimension grows: Bayes MSE increases
    assert bayes["mse"].is_monotonic_increasing


def test_gather_dim_shift_and_theory(dim_shift_run, tmp_path):
    ev = tmp_path / "e.json"
    dim_shift.evaluate_dim_shift(
        [str(dim_shift_run)],
        str(ev),
        case="subspace",
        eval_values=[1, 3],
        L_eval=[10, 30],
        eval_prompts=40,
        eval_seed=1,
    )
    orc = tmp_path / "o.parquet"
    dim_shift.dim_shift_oracles(
        str(orc), case="subspace", base_params=dict(SUB), n=8, eval_values=[1, 3], num_prompts=10, seed=0
    )
    outs = [tmp_path / f"{x}.parquet" for x in ("t", "o2", "th")]
    dim_shift.gather_dim_shift([str(ev)], [str(orc)], *map(str, outs), n=8, sigma0_2=2.0, sigma_z2=1.0)
    t, o, th = (read_table(p) for p in outs)
    for col, dtype in dim_shift.DIM_SHIFT_COLUMNS.items():
        assert str(t[col].dtype).lower().startswith(dtype[:5]), col
    assert len(t) == 2 * 2 * 2 and len(o) == 6
    assert set(th["estimator"]) == {"scaled_identity_trained", "scaled_identity_optimal"} and len(th) == 8
    arrays, _ = load_run(dim_shift_run)
    g = np.mean(np.diag(arrays["W_PV"])) * np.mean(np.diag(arrays["W_KQ"]))
    row = th[(th["estimator"] == "scaled_identity_trained") & (th["eval_value"] == 3) & (th["L"] == 30)].iloc[0]
    assert row["gamma"] == pytest.approx(g)
    assert row["mse"] == pytest.approx(linear_attention_finite_L_mse(30, 8, 3, 2.0, 1.0, gamma=g))
    opt = th[th["estimator"] == "scaled_identity_optimal"].set_index(["eval_value", "L"])["mse"]
    trained = th[th["estimator"] == "scaled_identity_trained"].set_index(["eval_value", "L"])["mse"]
    assert (opt <= trained + 1e-12).all()  # γ* minimises the scaled-identity MSE


# --------------------------------------------------------------------------- plotting


def test_plots_from_tables(dim_shift_run, tmp_path):
    from icdenoise.plotting.context_sweep import plot_context_sweep
    from icdenoise.plotting.dim_shift import plot_dim_shift

    for L in (8, 12):
        _sweep_run(tmp_path / "runs", L=L, seed=0, epochs=2, fresh=20)
    runs = sorted(str(p) for p in (tmp_path / "runs").rglob("*.npz"))
    context_sweep.gather_context_sweep(runs, tmp_path / "cs.parquet", tmp_path / "cst.parquet")
    plot_context_sweep(tmp_path / "cs.parquet", tmp_path / "cst.parquet", tmp_path / "a.pdf", tmp_path / "a.png")
    ev = tmp_path / "e.json"
    dim_shift.evaluate_dim_shift(
        [str(dim_shift_run)],
        str(ev),
        case="subspace",
        eval_values=[1, 3, 5],
        L_eval=[10, 30],
        eval_prompts=30,
        eval_seed=1,
    )
    orc = tmp_path / "o.parquet"
    dim_shift.dim_shift_oracles(
        str(orc), case="subspace", base_params=dict(SUB), n=8, eval_values=[1, 3, 5], num_prompts=10, seed=0
    )
    outs = [str(tmp_path / f"{x}.parquet") for x in ("t", "o2", "th")]
    dim_shift.gather_dim_shift([str(ev)], [str(orc)], *outs, n=8, sigma0_2=2.0, sigma_z2=1.0)
    plot_dim_shift(*outs, tmp_path / "b.pdf", tmp_path / "b.png")
    for name in ("a.pdf", "a.png", "b.pdf", "b.png"):
        assert (tmp_path / name).stat().st_size > 5_000


# --------------------------------------------------------------------------- config checks


def _paper_config():
    import yaml

    return yaml.safe_load(PAPER_CONFIG.read_text())


def test_paper_config_is_valid():
    check_config(_paper_config(), SCHEMA)


@pytest.mark.parametrize(
    "edit,message",
    [
        (
            lambda c: c["dim_shift"]["cases"]["subspace"].update(eval_values=[1, 16]),
            "dim_shift.cases.subspace.eval_values",
        ),
        (lambda c: c["dim_shift"]["cases"]["sphere"].update(eval_values=[16]), "must be < n"),
        (lambda c: c["dim_shift"].update(seeds=[0, 7]), "dim_shift.seeds"),
        (lambda c: c.update(models=["linear"]), "must contain softmax"),
        (lambda c: c["context_sweep"].update(L=[0, 10]), "context_sweep.L"),
        (lambda c: c["context_sweep"].update(bogus=1), "context_sweep.bogus"),
        (lambda c: c["dim_shift"]["cases"].update(other={"eval_values": [1]}), "dim_shift.cases.other"),
        (lambda c: c["dim_shift"]["cases"]["gmm"].update(eval_values=[]), "dim_shift.cases.gmm.eval_values"),
    ],
)
def test_bad_fig4_config_is_named_by_key(edit, message):
    cfg = _paper_config()
    edit(cfg)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        check_config(cfg, SCHEMA)


def test_dim_shift_case_needs_its_task_settings():
    cfg = _paper_config()
    del cfg["cases"]["gmm"]
    with pytest.raises(ConfigError, match=r"dim_shift\.cases\.gmm"):
        check_config(cfg, SCHEMA)


# --------------------------------------------------------------------------- workflow


def test_dry_run_plans_the_fig4_jobs(tmp_path):
    out = run_snakemake(
        tmp_path,
        "-n",
        f"{PAPER_RESULTS}/figures/fig4a.pdf",
        f"{PAPER_RESULTS}/figures/fig4b.pdf",
        configfile=PAPER_CONFIG,
    ).stdout
    counts = job_counts(out)
    assert counts["train_context_sweep"] == 2  # one batched job per model, one run file per (L, seed)
    Ls = [20, 30, 40, 50, 60, 70, 80, 90, 100, 140, 180, 220, 260, 300, 340, 380, 420, 460, 500]
    for model in ("linear", "softmax"):
        assert all(f"{PAPER_RESULTS}/runs/context_sweep/L{L}/{model}/seed{s}.npz" in out for L in Ls for s in range(3))
    assert counts["gather_context_sweep"] == 1 and counts["plot_context_sweep"] == 1
    assert counts["train_dim_shift"] == 1  # subspace, every seed in one ensemble
    assert counts["evaluate_dim_shift"] == 1  # every case in one job, every seed on the same prompts
    assert counts["dim_shift_oracles"] == 1
    assert all(f"{PAPER_RESULTS}/evaluations/dim_shift/{c}.json" in out for c in ("subspace", "sphere", "gmm"))
    assert counts["gather_dim_shift"] == 1 and counts["plot_dim_shift"] == 1
    assert counts["train"] == 2  # the Figure 3 jobs of sphere and gmm, whose softmax runs are reused
    assert (
        f"{PAPER_RESULTS}/runs/fig3/sphere/softmax/seed2.npz" in out
        and f"{PAPER_RESULTS}/runs/fig3/subspace" not in out
    )


def test_dry_run_all_includes_fig4(tmp_path):
    out = run_snakemake(tmp_path, "-n", configfile=PAPER_CONFIG).stdout
    counts = job_counts(out)
    assert counts["plot_context_sweep"] == 1 and counts["plot_dim_shift"] == 1 and counts["train_context_sweep"] == 2


@pytest.mark.slow
def test_smoke_fig4_outputs(smoke_run):
    tables = smoke_run / SMOKE_RESULTS / "tables"
    cs = pd.read_parquet(tables / "context_sweep.parquet")
    assert set(cs["model"]) == {"linear", "softmax"} and sorted(set(cs["L"])) == [10, 20]
    for col, dtype in context_sweep.CONTEXT_SWEEP_COLUMNS.items():
        assert str(cs[col].dtype).lower().startswith(dtype[:5]), col
    ds = pd.read_parquet(tables / "dim_shift.parquet")
    assert set(ds["case"]) == {"subspace", "sphere", "gmm"}
    assert set(ds["model_state"]) == {"trained", "untrained"}
    assert ds["mse"].notna().all() and (ds["mse"] > 0).all()
    for col, dtype in dim_shift.DIM_SHIFT_COLUMNS.items():
        assert str(ds[col].dtype).lower().startswith(dtype[:5]), col
    orc = pd.read_parquet(tables / "dim_shift_oracles.parquet")
    assert set(orc["case"]) == {"subspace", "sphere", "gmm"}
    for name in ("fig4a", "fig4b"):
        for ext in ("pdf", "png"):
            f = smoke_run / SMOKE_RESULTS / "figures" / f"{name}.{ext}"
            assert f.exists() and f.stat().st_size > 10_000, f
    logs = smoke_run / SMOKE_RESULTS / "logs"  # every job's log ends with its own wall and CPU time
    job_logs = [*(logs / "train_context_sweep").glob("*.log"), *(logs / "train_dim_shift").glob("*.log")]
    assert len(job_logs) >= 2
    for log in job_logs:
        assert "job done:" in log.read_text() and "s CPU" in log.read_text(), log


def test_dim_shift_evaluates_softmax_weight_sets_together_like_one_by_one():
    """The batched evaluation of several softmax (and linear) weight sets equals model_mse of each."""
    batch = sample_prompts("sphere", 40, 3, n=8, L=25, d=3, R=1.0, sigma_z2=0.1)
    g = torch.Generator().manual_seed(0)
    sets = [
        ("softmax", (torch.randn(8, 8, generator=g).numpy(), torch.randn(8, 8, generator=g).numpy())) for _ in range(3)
    ]
    sets.append(("linear", sets[0][1]))
    got = dim_shift._set_errors(batch.X, batch.x_query, batch.x_target, sets)
    for (model, (W_KQ, W_PV)), err in zip(sets, got, strict=True):
        want = common.model_mse(model, batch.X, batch.x_query, batch.x_target, W_KQ, W_PV)
        np.testing.assert_allclose(err, want, rtol=2e-5, atol=1e-7)
