"""Gap study (beyond the paper): the fast online sampler draws the numpy sampler's law, the epochs keep the
paper's steps, the slope fit, a tiny study end to end in-process (train, gather, plot), and the opt-in rule.

Statistical checks compare the two samplers' means of per-prompt statistics by a two-sample z-score (5 SE:
a false alarm below ~1e-6 per number; every seed is fixed, so the tests are deterministic).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from icdenoise import kernels
from icdenoise.bayes import mse_per_component, oracle_predictions
from icdenoise.runs import plan_runs
from icdenoise.studies import gap_study as gs
from icdenoise.tasks import sample_prompts, sample_prompts_torch
from icdenoise.train import OnlinePrompts
from workflow_utils import PAPER_CONFIG, SMOKE_CONFIG, job_counts, run_snakemake

N_, L_ = 8, 6
PARAMS = {
    "subspace": dict(d=3, sigma0_2=2.0, sigma_z2=1.0),
    "sphere": dict(d=3, R=1.5, sigma_z2=0.1),
    "gmm": dict(p=4, R=1.0, sigma0_2=0.02, sigma_z2=0.1),
}


def _stats(b, case) -> dict[str, np.ndarray]:
    """Per-prompt statistics whose means pin the joint law of (task, context, query, target)."""
    X = np.asarray(b.X, np.float64)
    q, t = np.asarray(b.x_query, np.float64), np.asarray(b.x_target, np.float64)
    out = {
        "norm2": (X**2).sum(-1).mean(-1),
        "norm4": ((X**2).sum(-1) ** 2).mean(-1),
        "x0": X[:, :, 0].mean(-1),
        "x0x1": (X[:, :, 0] * X[:, :, 1]).mean(-1),
        "inner2": ((X[:, 0] * X[:, 1]).sum(-1)) ** 2,  # two tokens of one prompt: the task's structure
        "target_inner": (t * X[:, 0]).sum(-1),
        "noise2": ((q - t) ** 2).sum(-1),
        "bayes": mse_per_component(oracle_predictions(case, b.x_query, b.task, b.params)["bayes"], t),
    }
    if case == "gmm":  # tokens sit near the centres of the task
        mu = b.task["centres"]
        out["dist2"] = ((X[:, :, None, :] - mu[:, None, :, :]) ** 2).sum(-1).min(-1).mean(-1)
    else:  # tokens lie in the task's frame
        U = b.task["basis"]
        out["outside"] = ((X - (X @ U) @ U.transpose(0, 2, 1)) ** 2).sum((-1, -2))
    return out


@pytest.mark.parametrize("case", sorted(PARAMS))
def test_torch_sampler_draws_the_numpy_samplers_law(case):
    a = _stats(sample_prompts(case, 4000, 1, n=N_, L=L_, **PARAMS[case]), case)
    b = _stats(sample_prompts_torch(case, 4000, 2, n=N_, L=L_, **PARAMS[case]), case)
    for key in a:
        ma, mb = a[key].mean(), b[key].mean()
        se = np.hypot(a[key].std(ddof=1), b[key].std(ddof=1)) / np.sqrt(4000)
        if key == "outside":  # exactly zero up to float32 rounding
            assert ma < 1e-9 and mb < 1e-9, (key, ma, mb)
            continue
        assert abs(ma - mb) <= 5 * se + 1e-12, (case, key, ma, mb, se)


@pytest.mark.parametrize("case", sorted(PARAMS))
def test_torch_sampler_is_deterministic_and_in_the_kernel_layout(case):
    b1 = sample_prompts_torch(case, 50, 7, n=N_, L=L_, **PARAMS[case])
    b2 = sample_prompts_torch(case, 50, 7, n=N_, L=L_, **PARAMS[case])
    b3 = sample_prompts_torch(case, 50, 8, n=N_, L=L_, **PARAMS[case])
    ref = sample_prompts(case, 50, 7, n=N_, L=L_, **PARAMS[case])
    assert np.array_equal(b1.X, b2.X) and np.array_equal(b1.x_query, b2.x_query)
    assert not np.array_equal(b1.X, b3.X)
    assert b1.X.shape == ref.X.shape and b1.X.dtype == np.float32 and b1.x_query.dtype == np.float32
    assert b1.params == ref.params and set(b1.task) == set(ref.task)
    assert b1.X.transpose(0, 2, 1).strides[-1] == 4  # (B, n, L) rows are contiguous: the fused kernels' layout
    assert np.array_equal(b1.X_T, np.ascontiguousarray(b1.X.transpose(0, 2, 1)))


@pytest.mark.parametrize("case", sorted(PARAMS))
def test_torch_sampler_draws_into_a_buffer_the_same_prompts(case):
    buf = np.full((30, N_, L_), np.nan, np.float32)
    a = sample_prompts_torch(case, 30, 5, n=N_, L=L_, **PARAMS[case])
    b = sample_prompts_torch(case, 30, 5, n=N_, L=L_, out=buf, **PARAMS[case])
    assert np.shares_memory(b.X, buf) and np.array_equal(a.X, b.X) and np.array_equal(a.x_query, b.x_query)
    with pytest.raises(ValueError, match="out must be"):
        sample_prompts_torch(case, 30, 5, n=N_, L=L_ + 1, out=buf, **PARAMS[case])


@pytest.mark.skipif(not kernels.available(), reason="no numba")
def test_fused_mixture_tokens_equal_torchs_gather():
    import torch

    g = torch.Generator().manual_seed(0)
    tokens = torch.randn(5, 7, 33, generator=g)
    muT = torch.randn(5, 7, 4, generator=g)
    labels = torch.randint(0, 4, (5, 33), generator=g)
    ref = tokens * 0.3 + torch.gather(muT, 2, labels[:, None, :].expand(5, 7, 33))
    kernels.scale_add_centres(tokens.numpy(), muT.numpy(), labels.numpy(), np.float32(0.3))
    assert torch.allclose(tokens, ref, rtol=1e-6, atol=1e-7)


@pytest.mark.skipif(not kernels.available(), reason="no numba")
def test_fused_sphere_tokens_equal_normalise_then_project():
    import torch

    g = torch.Generator().manual_seed(1)
    u = torch.randn(3, 4, 29, generator=g)
    V = torch.linalg.qr(torch.randn(3, 7, 4, generator=g))[0]
    ref = torch.bmm(V, 1.5 * u / u.norm(dim=1, keepdim=True))
    out = np.empty((3, 7, 29), np.float32)
    kernels.sphere_tokens(u.numpy(), V.contiguous().numpy(), np.float32(1.5), out)
    np.testing.assert_allclose(out, ref.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.5, rtol=1e-5)


def test_torch_sampler_validates_like_the_numpy_one():
    with pytest.raises(ValueError, match="d must satisfy"):
        sample_prompts_torch("subspace", 4, 0, n=4, L=3, d=4, sigma0_2=1.0, sigma_z2=1.0)
    with pytest.raises(ValueError, match="needs parameters"):
        sample_prompts_torch("sphere", 4, 0, n=4, L=3, d=2, R=1.0)
    with pytest.raises(ValueError, match="weights"):
        sample_prompts_torch("gmm", 4, 0, n=4, L=3, p=2, R=1.0, sigma0_2=0.1, sigma_z2=0.1, weights=[0.5, 0.6])
    w = sample_prompts_torch("gmm", 3000, 0, n=4, L=20, p=2, R=1.0, sigma0_2=1e-4, sigma_z2=0.1, weights=[0.8, 0.2])
    near0 = ((w.X - w.task["centres"][:, None, 0]) ** 2).sum(-1) < ((w.X - w.task["centres"][:, None, 1]) ** 2).sum(-1)
    assert abs(near0.mean() - 0.8) < 0.01  # 60,000 tokens: SE 0.0016


def test_online_stream_with_the_torch_sampler():
    s = OnlinePrompts("gmm", N_, L_, PARAMS["gmm"], seed=3, prompts_per_epoch=20, sampler="torch")
    a, b = s.sample(1), s.sample(2)
    assert np.array_equal(a.X, s.sample(1).X) and not np.array_equal(a.X, b.X)
    assert np.array_equal(a.X, sample_prompts_torch("gmm", 20, s.epoch_seed(1), n=N_, L=L_, **PARAMS["gmm"]).X)
    with pytest.raises(ValueError, match="sampler"):
        OnlinePrompts("gmm", N_, L_, PARAMS["gmm"], seed=3, prompts_per_epoch=20, sampler="jax")


def test_epochs_keep_the_papers_steps():
    steps = 200 * 10  # the paper: 200 epochs of ceil(800 / 80) steps
    assert [gs.epochs_for(N, 80, steps) for N in (200, 400, 800, 1600, 3200, 6400)] == [667, 400, 200, 100, 50, 25]
    # 1000 steps (subspace): 6400 prompts are 80 steps an epoch, 12.5 epochs: the tie goes up (banker's gave 12)
    assert [gs.epochs_for(N, 80, 1000) for N in (200, 400, 800, 1600, 3200, 6400)] == [333, 200, 100, 50, 25, 13]
    assert gs.nearest_epoch(1000, 80) == 13 and gs.nearest_epoch(900, 80) == 11 and gs.nearest_epoch(2.5, 1) == 3


#: The default grid's schedule, by hand: (paper steps, N) -> (steps, lr milestone steps). Each boundary is the epoch
#: boundary nearest the paper's step (800/900 of 1000, 1600/1800 of 2000), ties up; exact where it divides.
SCHEDULES = {
    (1000, 200): (999, [801, 900]),  # 3 steps an epoch: 333 epochs, milestones 267, 300
    (1000, 400): (1000, [800, 900]),
    (1000, 800): (1000, [800, 900]),
    (1000, 1600): (1000, [800, 900]),
    (1000, 3200): (1000, [800, 920]),  # 40 an epoch: 900 / 40 = 22.5 -> 23 (ties up)
    (1000, 6400): (1040, [800, 880]),  # 80 an epoch: 12.5 -> 13 epochs, 11.25 -> 11
    (2000, 200): (2001, [1599, 1800]),  # 3 an epoch: 666.67 -> 667, 533.33 -> 533, 600
    (2000, 400): (2000, [1600, 1800]),
    (2000, 800): (2000, [1600, 1800]),
    (2000, 1600): (2000, [1600, 1800]),
    (2000, 3200): (2000, [1600, 1800]),
    (2000, 6400): (2000, [1600, 1840]),  # 80 an epoch: 22.5 -> 23
}


@pytest.mark.parametrize(("steps", "N"), sorted(SCHEDULES))
def test_schedule_at_every_N_of_the_default_grid(steps, N):
    """Steps and lr milestones of every N of config.yaml's grid, as the run layer plans them and train.py runs them."""
    from icdenoise.train import TrainConfig

    config = yaml.safe_load(PAPER_CONFIG.read_text())
    assert sorted(config["gap_study"]["N"]) == [200, 400, 800, 1600, 3200, 6400]
    train = config["train"]
    paper = gs.paper_milestone_steps(train, steps // 10, 10)
    assert paper == [steps * 8 // 10, steps * 9 // 10]
    plan = gs.schedule_for(N, train, steps, paper)
    want_steps, want_milestones = SCHEDULES[(steps, N)]
    per = gs.steps_per_epoch(N, 80)
    assert (plan["steps"], plan["milestone_steps"]) == (want_steps, want_milestones)
    cfg = TrainConfig.from_settings("linear", plan["epochs"], {**train, "lr_milestones": plan["lr_milestones"]})
    assert [e * per for e in cfg.milestone_epochs()] == want_milestones  # what train.py decays at
    assert abs(plan["steps"] - steps) <= per / 2 and all(
        abs(a - b) <= per / 2 for a, b in zip(plan["milestone_steps"], paper, strict=True)
    )


def test_wanted_runs_plan_the_schedule():
    """The planned gap-study runs of the paper config carry schedule_for's epochs and milestones."""
    from icdenoise.train import TrainConfig

    config = yaml.safe_load(PAPER_CONFIG.read_text())
    runs = plan_runs(config, "gap_study", case="subspace", model="linear", L=500)
    by_N = {r.tags["N"]: r for r in runs if r.tags["training"] == "finite"}
    for N, r in by_N.items():
        cfg = TrainConfig.from_settings("linear", r.settings["epochs"], r.settings["train"])
        per = gs.steps_per_epoch(N, 80)
        assert (cfg.epochs * per, [e * per for e in cfg.milestone_epochs()]) == SCHEDULES[(1000, N)]
    assert by_N[800].settings["train"]["lr_milestones"] == [0.8, 0.9]  # unchanged where they already fit


def test_loglog_slope_recovers_a_power_law():
    N = np.array([200, 400, 800, 1600, 3200])
    slope, se, k = gs.loglog_slope(N, 3.0 * N**-1.0, 1e-4 * 3.0 * N**-1.0)
    assert k == 5 and abs(slope + 1.0) < 1e-9 and se < 1e-3
    rng = np.random.default_rng(0)
    e = 2.0 * N**-0.5 * np.exp(rng.normal(0, 0.05, N.size))
    slope, se, k = gs.loglog_slope(N, e, 0.05 * e)
    assert abs(slope + 0.5) < 4 * se and 0 < se < 0.2
    assert np.isnan(gs.loglog_slope(N, np.array([1.0, -1, -1, -1, 1]), np.ones(5))[0])  # < 3 positive points


def test_power_law_fit_recovers_floor_and_slope_with_a_calibrated_se():
    """excess(N) = a + c·N^s with the floor as an observation of a: s recovered, its SE right within 25% (the old
    log-log fit, floor subtracted and points at or below it dropped, was 25-35% too small)."""
    N = np.array([200, 400, 800, 1600, 3200, 6400], float)
    a, c, s_true = 0.002, 0.01, -0.8
    true = a + c * (N / 800) ** s_true
    se = 0.05 * true
    s, s_se, k = gs.power_law_fit(N, true, se, a, 0.05 * a)
    assert k == 7 and abs(s - s_true) < 1e-4
    rng = np.random.default_rng(1)
    est, ses = [], []
    for _ in range(400):
        e = true + rng.normal(0, se)
        f = a + rng.normal(0, 0.05 * a)
        v, v_se, _ = gs.power_law_fit(N, e, se, f, 0.05 * a)
        if np.isfinite(v):
            est.append(v)
            ses.append(v_se)
    est, ses = np.array(est), np.array(ses)
    assert len(est) > 380
    assert abs(np.median(ses) / est.std() - 1) < 0.25, (np.median(ses), est.std())
    assert np.isnan(gs.power_law_fit(N[:2], true[:2], se[:2], a, 1e-4)[0])  # 3 points for 3 parameters


def test_bootstrap_part_adds_seed_and_prompt_se():
    rng = np.random.default_rng(0)
    m, se = gs.bootstrap_part([1.0, 2.0, 3.0], 0.0, rng)
    assert m == 2.0 and 0.35 < se < 0.6  # bootstrap of 3 seeds: sd sqrt(2/3) / sqrt(3) = 0.47
    assert gs.bootstrap_part([5.0], 0.1, rng) == (5.0, 0.1)


def _job(case, model, L, N) -> dict:
    """Keyword arguments of one tiny train_gap_study job (n = 6, 2 seeds, 12 steps of batch 8), planned by the run
    layer from a tiny config (N is the sweep at L = gap_study.L; any other L trains online only)."""
    params = dict(PARAMS[case], d=2) if case == "subspace" else PARAMS[case]
    config = dict(
        base_seed=3,
        n=6,
        L=L,
        n_train=24,  # 3 steps of batch 8 per epoch: 4 epochs make the paper's 12 steps
        n_test=8,
        train=dict(batch_size=8, lr=0.01, lr_milestones=[0.8, 0.9], lr_gamma=0.1),
        cases={case: dict(params, epochs=4)},
        gap_study=dict(N=N or [8], L=L if N else -1, seeds=[0, 1], online_prompts=16, online_stream="per_seed"),
    )
    runs = plan_runs(config, "gap_study", case=case, model=model, L=L)
    return dict(
        case=case,
        model=model,
        L=L,
        runs=[r.to_param() for r in runs],
        fresh_prompts=200,
        landscape_prompts=40,
        beta_bounds=[0.5, 12.0] if case == "gmm" else [0.01, 0.5],
        fresh_seed=9,
        landscape_seed=10,
        device="cpu",
    )


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """A tiny gap study in-process: gmm softmax (N sweep + online at two L) and subspace linear, 2 seeds."""
    d = tmp_path_factory.mktemp("gap")
    runs, refs = [], []
    for case, model, L, N in (("gmm", "softmax", 10, [8, 16, 32]), ("gmm", "softmax", 5, []),
                              ("subspace", "linear", 10, [8, 16, 32])):  # fmt: skip
        out_r, out_f = str(d / f"{case}_{model}_{L}_runs.parquet"), str(d / f"{case}_{model}_{L}_refs.parquet")
        gs.train_gap_study(out_r, out_f, **_job(case, model, L, N))
        runs.append(out_r)
        refs.append(out_f)
    out = {k: str(d / f"{k}.parquet") for k in ("table", "refs", "summary")}
    gs.gather_gap_study(runs, refs, out["table"], out["refs"], out["summary"], N_ref=16)
    from icdenoise.plotting.gap_study import plot_gap_study

    plot_gap_study(out["table"], out["refs"], out["summary"], str(d / "fig.pdf"), str(d / "fig.png"))
    return d, {k: pd.read_parquet(v) for k, v in out.items()}


def test_tiny_study_tables(tiny_study):
    d, t = tiny_study
    runs, refs, summary = t["table"], t["refs"], t["summary"]
    assert dict(runs.dtypes.astype(str)) == gs.GAP_COLUMNS
    assert dict(summary.dtypes.astype(str)) == gs.SUMMARY_COLUMNS
    assert len(runs) == 2 * (3 + 1) + 2 + 2 * (3 + 1)  # N sweep + online, online at the second L, linear
    fin = runs[runs["training"] == "finite"]
    assert set(fin["N"]) == {8, 16, 32} and (fin["epochs"] * np.ceil(fin["N"] / 8) - 12).abs().max() <= 1
    onl = runs[runs["training"] == "online"]
    assert set(onl["L"]) == {5, 10} and (onl["N"] == onl["steps"] * 8).all()  # every prompt seen once
    np.testing.assert_allclose(runs["excess_mse"], runs["fresh_mse"] - runs["bayes_mse"], rtol=1e-9, atol=1e-12)
    assert set(refs["reference"]) == {"bayes", "bayes_theory", "scaled_identity_opt", "finite_L_theory"}
    assert list(summary["case"]) == ["gmm", "subspace"] and (summary["L"] == 10).all()
    # three parts against one Monte Carlo Bayes: they add up to the total gap (fresh - Bayes, paired) exactly
    np.testing.assert_allclose(summary["approx_share"] + summary["est_share"] + summary["optim_share"], 1.0)
    np.testing.assert_allclose(
        summary["approx_gap"] + summary["est_gap"] + summary["optim_gap"], summary["total_gap"], rtol=1e-9, atol=1e-12
    )
    np.testing.assert_allclose(summary["total_gap"], summary["fresh_mse"] - summary["bayes_mse"], rtol=1e-9, atol=1e-12)
    sub = summary[summary["case"] == "subspace"].iloc[0]
    assert np.isfinite(sub["bayes_theory_mse"]) and sub["bayes_mse"] != sub["bayes_theory_mse"]  # shown, not used
    assert (summary[["est_gap_se", "optim_gap_se", "approx_gap_se"]] > 0).all().all()
    np.testing.assert_allclose(  # each run's fresh MSE paired against the best scaled identity
        runs["vs_scaled_identity"] + summary.set_index(["case", "model"]).loc[
            list(zip(runs["case"], runs["model"], strict=True)), "scaled_identity_mse"
        ].to_numpy() * (runs["L"] == 10).to_numpy(),
        runs["fresh_mse"] * (runs["L"] == 10).to_numpy() + runs["vs_scaled_identity"] * (runs["L"] != 10).to_numpy(),
        rtol=1e-9, atol=1e-12,
    )  # fmt: skip
    assert runs["milestone_steps"].str.fullmatch(r"\d+/\d+").all()
    assert (d / "fig.png").stat().st_size > 10_000 and (d / "fig.pdf").exists()


def test_tiny_study_is_deterministic(tiny_study, tmp_path):
    """The same seeds give the same rows (one job rerun)."""
    d, t = tiny_study
    gs.train_gap_study(str(tmp_path / "r.parquet"), str(tmp_path / "f.parquet"), **_job("gmm", "softmax", 5, []))
    first = t["table"][t["table"]["L"] == 5].reset_index(drop=True)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "r.parquet"), first)


def test_rule_is_opt_in_and_plans_one_job_per_case_model_L(tmp_path):
    # the target before --configfile (which takes several values)
    out = run_snakemake(tmp_path, "gap_study", "-n", "--configfile", str(PAPER_CONFIG), configfile=None).stdout
    counts = job_counts(out)
    # subspace linear + softmax at L = 500; sphere and gmm softmax at the five online L
    assert counts["train_gap_study"] == 2 + 2 * 5 and counts["gather_gap_study"] == 1 and counts["plot_gap_study"] == 1
    assert "train" not in counts  # no Figure 3 job
    default = run_snakemake(tmp_path, "-n", configfile=SMOKE_CONFIG).stdout
    assert "train_gap_study" not in job_counts(default)
    # enabled: part of the default target, and the claims rule reads its tables
    on = run_snakemake(tmp_path, "-n", "--config", "gap_study__enabled=true", configfile=SMOKE_CONFIG).stdout
    # smoke: subspace/linear, sphere and gmm softmax at L = 40 (runs merge key by key), gmm also online at L = 20
    assert job_counts(on)["plot_gap_study"] == 1 and job_counts(on)["train_gap_study"] == 3 + 1
    assert "tables/gap_study_summary.parquet" in on.split("rule claims:")[1].split("output:")[0]


def test_members_on_one_stream_share_its_draws_and_equal_solo_runs():
    """Online members on the same stream are drawn once per epoch; each still equals its solo run."""
    from icdenoise.train import Member, TrainConfig, train, train_ensemble

    stream = OnlinePrompts("sphere", N_, L_, PARAMS["sphere"], seed=4, prompts_per_epoch=16, sampler="torch")
    test = sample_prompts("sphere", 8, 5, n=N_, L=L_, **PARAMS["sphere"])
    cfgs = [TrainConfig("softmax", epochs=3, batch_size=8, seed=s, progress=False) for s in (1, 2)]
    ens = train_ensemble([Member(stream, test, c) for c in cfgs])
    for c, r in zip(cfgs, ens, strict=True):
        solo = train(stream, test, c)
        np.testing.assert_array_equal(r.W_KQ, solo.W_KQ)
        np.testing.assert_array_equal(r.train_mse, solo.train_mse)
    assert not np.array_equal(ens[0].W_KQ, ens[1].W_KQ)
