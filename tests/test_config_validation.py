"""Bad configs are rejected before any job runs, with a message naming the key and the allowed values.

Every bad config goes through ``icdenoise.config.check_config`` (what common.smk calls at planning
time); a representative subset also goes through the real planning path, ``snakemake -n`` in an
empty directory, which must fail without creating ``results/``.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from icdenoise.config import ConfigError, check_config, describe, device_error
from workflow_utils import PAPER_CONFIG, REPO, SMOKE_CONFIG, run_snakemake

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
DELETE = object()


def smoke() -> dict:
    return yaml.safe_load(SMOKE_CONFIG.read_text())


def mutate(cfg: dict, key: str, value) -> dict:
    """A copy of ``cfg`` with the dotted ``key`` set to ``value`` (or deleted: DELETE)."""
    cfg = copy.deepcopy(cfg)
    *parents, last = key.split(".")
    node = cfg
    for p in parents:
        node = node.setdefault(p, {})
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return cfg


# (id, key to change, bad value, key the message must name, text naming the allowed values)
# The smoke config has n = 8, n_train = 96, seeds [0, 1].
BAD_CONFIGS = [
    ("d_equal_n", "cases.subspace.d", 8, "cases.subspace.d", "allowed: an integer from 1 to 7"),
    ("sphere_d_above_n", "cases.sphere.d", 12, "cases.sphere.d", "allowed: an integer from 1 to 7"),
    ("d_below_1", "cases.subspace.d", 0, "cases.subspace.d", "allowed: an integer >= 1"),
    ("negative_variance", "cases.subspace.sigma0_2", -1.0, "cases.subspace.sigma0_2", "allowed: a number > 0"),
    ("zero_noise_variance", "cases.gmm.sigma_z2", 0, "cases.gmm.sigma_z2", "allowed: a number > 0"),
    ("L_below_1", "L", 0, "L", "allowed: an integer >= 1"),
    (
        "unknown_case",
        "cases.line",
        {"d": 1, "sigma_z2": 0.1, "epochs": 5},
        "cases.line",
        "allowed keys here: gmm, sphere, subspace",
    ),
    ("unknown_model", "models", ["linear", "mlp"], "models[1]", "allowed values: 'linear', 'softmax'"),
    ("empty_seeds", "seeds", [], "seeds", "allowed: a non-empty list of unique integers >= 0"),
    ("duplicate_seeds", "seeds", [0, 1, 1], "seeds", "allowed: a non-empty list of unique integers >= 0"),
    ("negative_seed", "seeds", [0, -1], "seeds[1]", "allowed: an integer >= 0"),
    ("epochs_0", "cases.sphere.epochs", 0, "cases.sphere.epochs", "allowed: an integer >= 1"),
    ("batch_larger_than_train_set", "train.batch_size", 97, "train.batch_size", "allowed: an integer from 1 to 96"),
    ("zero_radius", "cases.sphere.R", 0.0, "cases.sphere.R", "allowed: a number > 0"),
    ("negative_radius", "cases.gmm.R", -1.0, "cases.gmm.R", "allowed: a number > 0"),
    ("p_below_1", "cases.gmm.p", 0, "cases.gmm.p", "allowed: an integer >= 1"),
    ("landscape_grid_0", "alpha_beta_landscape.grid", 0, "alpha_beta_landscape.grid", "allowed: an integer >= 2"),
    ("wrong_type_string", "n", "16", "n", "allowed: an integer >= 2"),
    ("wrong_type_float", "cases.subspace.epochs", 2.5, "cases.subspace.epochs", "allowed: an integer >= 1"),
    (
        "unknown_top_level_key",
        "learning_rate",
        0.1,
        "learning_rate",
        "allowed keys here: L, alpha_beta_landscape, base_seed,",
    ),
    (
        "unknown_nested_key",
        "train.learning_rate",
        0.1,
        "train.learning_rate",
        "allowed keys here: batch_size, lr, lr_gamma, lr_milestones, threads",
    ),
    ("lr_0", "train.lr", 0, "train.lr", "allowed: a number > 0"),
    ("lr_gamma_above_1", "train.lr_gamma", 1.5, "train.lr_gamma", "allowed: a number > 0 and <= 1"),
    ("unknown_device", "device", "gpu", "device", "allowed values: 'auto', 'cpu', 'cuda'"),
    ("unknown_dataset", "dataset", "both", "dataset", "allowed values: 'per_seed', 'shared'"),
    ("n_train_0", "n_train", 0, "n_train", "allowed: an integer >= 1"),
    (
        "heatmap_seed_not_trained",
        "training_dynamics.heatmap_seed",
        5,
        "training_dynamics.heatmap_seed",
        "allowed values: 0, 1",
    ),
    ("missing_section", "train", DELETE, "train", "allowed: a mapping with keys from: batch_size, lr"),
    ("no_cases", "cases", {}, "cases", "allowed: a mapping with keys from: gmm, sphere, subspace"),
    ("gap_N_without_n_train", "gap_study.N", [32, 64], "gap_study.N", "must contain n_train = 96"),
    ("gap_N_below_batch", "gap_study.N", [8, 96], "gap_study.N", "each N must be >= train.batch_size = 16"),
    ("gap_stream", "gap_study.online_stream", "both", "gap_study.online_stream", "'per_seed', 'shared'"),
]


def test_valid_configs_pass():
    check_config(smoke(), SCHEMA)
    check_config(yaml.safe_load(PAPER_CONFIG.read_text()), SCHEMA)


@pytest.mark.parametrize(
    ("key", "value", "named", "allowed"), [b[1:] for b in BAD_CONFIGS], ids=[b[0] for b in BAD_CONFIGS]
)
def test_bad_config_is_rejected_naming_key_and_allowed_values(key, value, named, allowed):
    with pytest.raises(ConfigError) as info:
        check_config(mutate(smoke(), key, value), SCHEMA)
    msg = str(info.value)
    assert f"config key '{named}'" in msg, msg
    assert allowed in msg, msg


def test_every_problem_is_reported_at_once():
    cfg = mutate(mutate(mutate(smoke(), "L", 0), "seeds", [0, 0]), "device", "gpu")
    with pytest.raises(ConfigError) as info:
        check_config(cfg, SCHEMA)
    msg = str(info.value)
    assert all(f"config key '{k}'" in msg for k in ("L", "seeds", "device")), msg


def test_nested_cli_values_get_a_hint():
    """Snakemake's --config reads values inside [...] / {...} as strings: the message says so."""
    with pytest.raises(ConfigError, match=r"config key 'seeds\[0\]' = '0' has the wrong type.*--configfile"):
        check_config(mutate(smoke(), "seeds", ["0", "1"]), SCHEMA)


def test_describe_schema_in_words():
    assert describe({"type": "integer", "minimum": 1}) == "an integer >= 1"
    assert describe({"type": "number", "exclusiveMinimum": 0, "maximum": 1}) == "a number > 0 and <= 1"
    assert describe({"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}) == (
        "a list of numbers, exactly 2 of them"
    )
    assert describe({"type": "string", "enum": ["a", "b"]}) == "one of: 'a', 'b'"


def test_device_cuda_is_refused_only_for_local_runs_without_gpu(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # hides any GPU, as on a CPU-only machine
    msg = device_error({"device": "cuda"}, local_exec=True)
    assert msg and "config key 'device'" in msg and "'auto'" in msg and "'cpu'" in msg
    assert device_error({"device": "cuda"}, local_exec=False) is None  # cluster: jobs run on GPU nodes
    assert device_error({"device": "auto"}, local_exec=True) is None


# ----------------------------------------------------------------------------- the real planning path

# (id, how: "configfile" writes the mutated smoke config as an extra --configfile, "config" passes
#  --config arguments; key named; allowed text)
PLANNED = [
    ("d_equal_n", ("configfile", "cases.subspace.d", 8), "cases.subspace.d", "allowed: an integer from 1 to 7"),
    (
        "landscape_grid_0",
        ("configfile", "alpha_beta_landscape.grid", 0),
        "alpha_beta_landscape.grid",
        "allowed: an integer >= 2",
    ),
    ("unknown_model", ("config", "models=[linear, mlp]"), "models[1]", "allowed values: 'linear', 'softmax'"),
    ("unknown_key", ("config", "learning_rate=0.1"), "learning_rate", "allowed keys here:"),
    ("epochs_0", ("configfile", "cases.gmm.epochs", 0), "cases.gmm.epochs", "allowed: an integer >= 1"),
]


@pytest.mark.parametrize(("how", "named", "allowed"), [p[1:] for p in PLANNED], ids=[p[0] for p in PLANNED])
def test_bad_config_fails_planning_before_any_job(tmp_path, how, named, allowed):
    workdir = tmp_path / "run"
    if how[0] == "configfile":
        bad = tmp_path / "bad.yaml"
        bad.write_text(yaml.safe_dump(mutate(smoke(), how[1], how[2])))
        proc = run_snakemake(workdir, "-n", "--cores", "1", configfile=bad, check=False)
    else:
        proc = run_snakemake(workdir, "-n", "--cores", "1", "--config", how[1], check=False)
    out = proc.stdout
    assert proc.returncode != 0, out[-3000:]
    assert "invalid configuration" in out and f"config key '{named}'" in out and allowed in out, out[-3000:]
    assert "Job stats" not in out  # failed while parsing the config: no DAG, so no job
    assert not (workdir / "results").exists()


def test_schema_and_relation_problems_are_named_together():
    """A type error and a relation error in one file: both are reported by the first run."""
    cfg = mutate(mutate(smoke(), "cases.gmm.sigma_z2", -0.1), "cases.subspace.d", 8)  # smoke n = 8
    with pytest.raises(ConfigError) as info:
        check_config(cfg, SCHEMA)
    msg = str(info.value)
    assert "config key 'cases.gmm.sigma_z2'" in msg and "config key 'cases.subspace.d'" in msg, msg
