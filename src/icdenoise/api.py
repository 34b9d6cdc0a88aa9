"""One-off runs outside Snakemake: the paper settings, prompts, oracles and training in a few calls.

Longer than 600 lines on purpose: it is the whole surface a notebook imports (settings, prompts, oracles,
models, training), one documented name at a time; the work itself lives in the science modules and the run layer.

This is the layer under both the ``icdenoise`` command line (``cli.py``) and the names that
``import icdenoise`` offers a notebook. Every default comes from ``config/config.yaml`` of the
checkout, read at call time (one source of truth, never a second copy here), and every override is
checked with the workflow's own validation (``icdenoise.config``: the JSON schema and the relation
checks), so a bad value is named exactly as the workflow would, translated to the option or keyword
the user typed.

Seeds are derived exactly as the workflow derives them, by the same code (the run layer,
``icdenoise.runs``: ``plan_runs`` holds the only seed recipe of training runs), so a one-off run with the
config's settings is the workflow's run, bit for bit:

* prompts of training seed ``s``: ``derive_seed(base_seed, "data", case, s)`` (``dataset: per_seed``) or
  ``derive_seed(base_seed, "data", case, shared_data_seed)`` (``dataset: shared``); ``n_train + n_test``
  prompts, the first ``n_train`` for training;
* initial weights and batch order: ``derive_seed(base_seed, "train", case, model, s)``;
* Monte Carlo oracle MSEs: ``runs.baseline_seed``, i.e. ``derive_seed(base_seed, "baselines_fresh", case, s)``
  with ``s = 0`` by default (the workflow's "fresh" baselines of data seed 0 when ``prompts <= 100000``).

MSE is per component, ‖x̂ − x‖²/n, everywhere (the paper's "MSE/n" axes).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .tasks import CASE_PARAMS, CASES, PromptBatch

__all__ = [
    "AttentionModel",
    "SettingsError",
    "TrainCaseResult",
    "build_model",
    "checkout_root",
    "load_config",
    "merge_config",
    "oracle_mses",
    "oracle_predictions",
    "paper_settings",
    "sample_prompts",
    "train_case",
    "train_model",
]


def _theory_mse(case: str, n: int, params: dict) -> dict[str, float]:
    """Closed-form oracle MSEs (:func:`icdenoise.bayes.theory_mse`, imported lazily: scipy)."""
    from .bayes import theory_mse

    return theory_mse(case, n, params)


def _oracle_predictions(case: str, x_query, task: dict, params: dict) -> dict:
    """Every oracle of a case on queries (:func:`icdenoise.bayes.oracle_predictions`, imported lazily)."""
    from .bayes import oracle_predictions as impl

    return impl(case, x_query, task, params)


# ----------------------------------------------------------------------------------- settings


class SettingsError(ValueError):
    """A bad setting; ``option`` is the option (``--d``) or keyword (``d``) it names."""

    def __init__(self, message: str, option: str | None = None):
        super().__init__(message)
        self.option = option


#: Settings that are not per case, and the config key each reads: its default is the config's value there
#: (or, for a config without the key, the schema's default, as the workflow's ``validate`` fills it in).
GLOBAL_KEYS: dict[str, tuple[str, ...]] = {
    "n": ("n",),
    "L": ("L",),
    "n_train": ("n_train",),
    "n_test": ("n_test",),
    "batch_size": ("train", "batch_size"),
    "lr": ("train", "lr"),
    "lr_milestones": ("train", "lr_milestones"),
    "lr_gamma": ("train", "lr_gamma"),
    "threads": ("train", "threads"),
    "device": ("device",),
    "base_seed": ("base_seed",),
    "dataset": ("dataset",),
    "shared_data_seed": ("shared_data_seed",),
    "prompts": ("training_dynamics", "baseline_fresh_prompts"),
}
#: The registered models of icdenoise.models (§3.1; its registry imports no torch).
from .models import MODELS as MODEL_NAMES  # noqa: E402

#: Settings of a case block, ``cases.<case>.<key>``.
CASE_KEYS = ("d", "R", "p", "sigma0_2", "sigma_z2", "epochs")
SETTING_KEYS = tuple(GLOBAL_KEYS) + CASE_KEYS
#: The config's top-level keys a one-off run reads.
TOP_LEVEL_KEYS = tuple(dict.fromkeys(["cases", *(path[0] for path in GLOBAL_KEYS.values())]))
#: The one default with no config key: the data-seed index of the Monte Carlo prompts (oracle_mses, ``bayes --seed``).
MC_SEED_INDEX = 0


def option_name(key: str, style: str = "keyword") -> str:
    """How a setting is named to the user: ``--sigma-z2`` (style "option") or ``sigma_z2`` ("keyword")."""
    return "--" + key.replace("_", "-") if style == "option" else key


def checkout_root() -> Path:
    """The checkout this package runs from (it holds config/config.yaml and workflow/schemas/)."""
    import icdenoise

    root = Path(icdenoise.__file__).resolve().parents[2]
    if not (root / "config" / "config.yaml").is_file() or not (root / "workflow" / "schemas").is_dir():
        raise SettingsError(
            f"cannot find config/config.yaml and workflow/schemas/ in {root} (the checkout above the "
            f"icdenoise package at {Path(icdenoise.__file__).resolve().parent}); icdenoise reads its defaults "
            "from the checkout: install it from a clone with `pip install -e .`"
        )
    return root


def config_path() -> Path:
    return checkout_root() / "config" / "config.yaml"


def schema_path() -> Path:
    return checkout_root() / "workflow" / "schemas" / "config.schema.yaml"


def load_schema() -> dict:
    """The workflow's config schema (workflow/schemas/config.schema.yaml)."""
    import yaml

    return yaml.safe_load(schema_path().read_text())


def load_config(path: str | Path | None = None) -> dict:
    """The workflow config (default: the checkout's config/config.yaml, the paper's settings)."""
    import yaml

    path = Path(path) if path is not None else config_path()
    try:
        cfg = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path} is not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(cfg, dict):
        raise SettingsError(f"{path} must hold a mapping of config keys, got {type(cfg).__name__}")
    return cfg


def merge_config(base: dict, override: dict) -> dict:
    """``override`` merged onto a copy of ``base`` as Snakemake's ``--configfile`` does (snakemake.utils.update_config).

    Nested mappings merge key by key; every other value (numbers, strings, lists) replaces the old one.
    """
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_config(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _get(cfg: dict, path: tuple[str, ...]):
    node = cfg
    for p in path:
        if not isinstance(node, dict) or p not in node:
            return None
        node = node[p]
    return node


_MISSING = object()


def _schema_default(schema: dict, path: tuple[str, ...]):
    """The schema's ``default`` at a config path, or _MISSING where it has none."""
    from .config import _resolve

    node = schema
    for p in path:
        node = _resolve(node, schema).get("properties", {}).get(p)
        if not isinstance(node, dict):
            return _MISSING
    node = _resolve(node, schema)
    return copy.deepcopy(node["default"]) if "default" in node else _MISSING


def config_value(cfg: dict, path: tuple[str, ...], schema: dict | None = None):
    """The config's value at ``path``, else the schema's default there, else SettingsError naming the key."""
    node = cfg
    for p in path:
        if not isinstance(node, dict) or p not in node:
            value = _schema_default(load_schema() if schema is None else schema, path)
            if value is _MISSING:
                raise SettingsError(f"config key '{'.'.join(path)}' is missing from the config and has no default")
            return value
        node = node[p]
    return node


def _set(cfg: dict, path: tuple[str, ...], value) -> None:
    node = cfg
    for p in path[:-1]:
        node = node.setdefault(p, {})
    node[path[-1]] = value


def _config_key(case: str, key: str) -> str:
    return ".".join(GLOBAL_KEYS[key]) if key in GLOBAL_KEYS else f"cases.{case}.{key}"


def _translate(messages: list[str], case: str, style: str, written=()) -> list[tuple[str | None, str]]:
    """(setting, message) per validator message: the option named instead of the key where a setting maps to it.

    A message no setting maps to passes through as it is (setting None), naming its config key. A message
    that the API's own writes caused (``written``: the dotted keys it set) and cannot map is a bug of the
    option -> key table (GLOBAL_KEYS): RuntimeError, never a dropped or misleading message.
    """
    by_key = {_config_key(case, k): k for k in SETTING_KEYS}
    out = []
    for msg in messages:
        m = re.match(r"config key '([^']+)'", msg)
        path = re.sub(r"(\[\d+\])+$", "", m.group(1)) if m else None
        key = by_key.get(path)
        rest = msg[m.end() :] if m else msg
        if path is not None and any(w == path or w.startswith(path + ".") for w in written):
            if key is None or rest.startswith(" is unknown"):
                raise RuntimeError(f"icdenoise bug: a setting is mapped to a config key the schema rejects: {msg}")
        if key is None:  # a key no setting controls: passed on as the validator named it
            out.append((None, msg))
            continue
        if style == "option":  # other settings the message mentions, e.g. "must be < n = 16"
            rest = re.sub(r"(?<![\w.'-])(n_train|n|L) = ", lambda k: option_name(k.group(1), style) + " = ", rest)
        out.append((key, option_name(key, style) + rest))
    return out


def paper_settings(case: str, config: dict | None = None, *, style: str = "keyword", **overrides) -> dict:
    """The settings of one case: the paper's (config/config.yaml) with ``overrides``, validated.

    Keys: ``n, L`` (§2.2: ambient dimension, clean context tokens), the case's task parameters
    (subspace: ``d, sigma0_2, sigma_z2`` (Prop. 2); sphere: ``d, R, sigma_z2`` (Prop. 3); gmm:
    ``p, R, sigma0_2, sigma_z2`` (Prop. 4)), ``epochs, n_train, n_test, batch_size, lr, lr_milestones,
    lr_gamma, threads, device`` (§3 training), ``base_seed, dataset, shared_data_seed`` (seeds) and
    ``prompts`` (Monte Carlo prompts of the oracle MSEs). Each default is the config's value at its key
    (GLOBAL_KEYS; ``cases.<case>.<key>``), the schema's default for a config without it; an override of
    None keeps the default. The keys the run reads are validated as the workflow validates them.
    Raises SettingsError naming the setting (``style="option"``: as ``--sigma-z2``), or the config key
    where no setting controls it.
    """
    cfg = load_config() if config is None else config
    if case not in CASES:
        raise SettingsError(
            f"{option_name('case', style)} {case!r} is unknown; allowed: {', '.join(CASES)}", option_name("case", style)
        )
    if case not in (cfg.get("cases") or {}):
        raise SettingsError(
            f"case {case!r} has no settings block 'cases.{case}' in the config", option_name("case", style)
        )
    given = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(given) - set(SETTING_KEYS))
    if unknown:
        raise SettingsError(f"unknown setting(s) {unknown}; allowed: {', '.join(SETTING_KEYS)}")
    task_keys = CASE_PARAMS[case]
    for key in given:
        if key in CASE_KEYS and key != "epochs" and key not in task_keys:
            names = ", ".join(option_name(k, style) for k in task_keys)
            raise SettingsError(
                f"{option_name(key, style)} does not apply to case {case} (its task parameters: {names})",
                option_name(key, style),
            )
    # The keys a one-off run reads: the global settings' sections and this case's block (a study's
    # section, or another case's block, is not checked against overrides it never uses; check-config
    # checks a whole config).
    run = {k: copy.deepcopy(cfg[k]) for k in TOP_LEVEL_KEYS if k in cfg}
    run["cases"] = {case: copy.deepcopy(cfg["cases"][case])}
    written = []
    for key, value in given.items():
        if isinstance(value, tuple):
            value = list(value)
        path = GLOBAL_KEYS.get(key, ("cases", case, key))
        _set(run, path, value)
        written.append(".".join(path))

    from .config import relation_errors, schema_errors

    schema = load_schema()
    run_schema = {**schema, "required": [k for k in schema.get("required", []) if k in TOP_LEVEL_KEYS]}
    problems = _translate(schema_errors(run, run_schema), case, style, written)
    if not problems:
        problems = _translate(relation_errors(run), case, style, written)
    prompts = _get(run, GLOBAL_KEYS["prompts"])
    if not problems and isinstance(prompts, int) and prompts < 2:
        problems = [
            (
                "prompts",
                f"{option_name('prompts', style)} = {prompts} is too small; allowed: an integer >= 2 "
                "(a standard error needs two prompts)",
            )
        ]
    if problems:
        first = problems[0][0]
        raise SettingsError("; ".join(msg for _, msg in problems), option_name(first, style) if first else None)

    out = {"case": case}
    for key, path in GLOBAL_KEYS.items():
        out[key] = config_value(run, path, schema)
    block = run["cases"][case]
    for key in (*task_keys, "epochs"):
        out[key] = block[key]
    out["lr_milestones"] = list(out["lr_milestones"])
    return out


def task_params(settings: dict) -> dict:
    """The sampler parameters of a settings dict (d, R, p, sigma0_2, sigma_z2 as the case needs)."""
    return {k: settings[k] for k in CASE_PARAMS[settings["case"]]}


# ----------------------------------------------------------------------------------- prompts and oracles


def sample_prompts(case: str, num_prompts: int, seed: int = 0, **overrides) -> PromptBatch:
    """``num_prompts`` prompts E = (X_1..X_L, x̃) of ``case`` (§2.2, Fig. 2), x̃ = X_{L+1} + Z, Z ~ N(0, σZ² I_n).

    Settings default to the paper's (config/config.yaml; any of ``n, L, d, R, p, sigma0_2, sigma_z2``
    may be overridden). ``seed`` (no config key) seeds the generator directly (PCG64); each prompt draws its task:
    subspace (Prop. 2), sphere (Prop. 3) or mixture centres (Prop. 4), returned in ``batch.task``.
    Arrays: ``X`` (B, L, n), ``x_query`` and ``x_target`` (B, n), float32.
    """
    from .tasks import sample_prompts as impl

    s = paper_settings(case, **overrides)
    return impl(case, int(num_prompts), int(seed), s["n"], s["L"], **task_params(s))


def oracle_predictions(case: str, batch: PromptBatch) -> dict:
    """Every oracle denoiser of ``case`` on a batch (it knows each prompt's task): name -> x̂ (B, n).

    subspace: "bayes" (Prop. 2, Eq. 3), "projection" (P x̃); sphere: "bayes" (Prop. 3, Eq. 6),
    "projection" (onto the sphere, κ → ∞); gmm: "bayes" (Prop. 4, Eq. 7), "bayes_sigma0_to_0" (Eq. 8);
    every case: "zero". Task parameters are read from ``batch.params``.
    """
    params = {k: batch.params[k] for k in CASE_PARAMS[case]}
    return _oracle_predictions(case, batch.x_query, batch.task, params)


ORACLE_DESCRIPTIONS = {
    ("subspace", "bayes"): "Bayes, Prop. 2 (Eq. 3): σ0²/(σ0²+σZ²) P x̃",
    ("subspace", "projection"): "projection P x̃ (Fig. 2)",
    ("sphere", "bayes"): "Bayes, Prop. 3 (Eq. 6): Bessel-ratio shrinkage",
    ("sphere", "projection"): "projection onto the sphere (κ → ∞)",
    ("gmm", "bayes"): "Bayes, Prop. 4 (Eq. 7)",
    ("gmm", "bayes_sigma0_to_0"): "σ0 → 0 form (Eq. 8)",
}


def oracle_mses(
    case: str,
    *,
    seed: int = MC_SEED_INDEX,
    monte_carlo: bool = True,
    config: dict | None = None,
    style: str = "keyword",
    **overrides,
):
    """Expected MSE of every oracle of ``case`` (Props. 2-4, Eq. 8, zero predictor), as a DataFrame.

    Rows ``case, estimator, source, num_prompts, mse, mse_se, description``: ``source`` "closed form"
    where the paper has one (subspace: Bayes (d/n)σ0²σZ²/(σ0²+σZ²) = 1/3, projection (d/n)σZ²; every
    case: zero predictor), and "monte carlo" (``prompts`` fresh prompts, standard error ``mse_se``)
    for every oracle when ``monte_carlo``. Settings as in paper_settings (of ``config``, default the
    checkout's); ``seed`` (no config key) is the data-seed index of ``derive_seed(base_seed,
    "baselines_fresh", case, seed)``, the workflow's fresh prompts.
    """
    import pandas as pd

    from .bayes import bayes_mse_monte_carlo

    s = paper_settings(case, config, style=style, **overrides)
    params = task_params(s)
    rows = []
    for name, value in _theory_mse(case, s["n"], params).items():
        rows.append(dict(estimator=name, source="closed form", num_prompts=0, mse=float(value), mse_se=0.0))
    if monte_carlo:
        from .runs import baseline_seed

        rng_seed = baseline_seed(s, case, int(seed))
        mc = bayes_mse_monte_carlo(case, int(s["prompts"]), rng_seed, s["n"], return_se=True, **params)
        for name in mc["mean"]:
            rows.append(
                dict(
                    estimator=name,
                    source="monte carlo",
                    num_prompts=int(s["prompts"]),
                    mse=mc["mean"][name],
                    mse_se=mc["se"][name],
                )
            )
    df = pd.DataFrame(rows)
    order = {"bayes": 0, "bayes_sigma0_to_0": 1, "projection": 2, "zero": 3}
    df = df.sort_values(["estimator", "source"], key=lambda c: c.map(order) if c.name == "estimator" else c)
    df.insert(0, "case", case)
    df["description"] = [ORACLE_DESCRIPTIONS.get((case, e), "zero predictor x̂ = 0: E‖x‖²/n") for e in df["estimator"]]
    return df.reset_index(drop=True)


def reference_mse(table, estimator: str) -> tuple[float, float, str]:
    """(mse, se, source) of one estimator from an oracle_mses table: the closed form when there is one."""
    rows = table[table["estimator"] == estimator]
    closed = rows[rows["source"] == "closed form"]
    row = (closed if len(closed) else rows).iloc[0]
    return float(row["mse"]), float(row["mse_se"]), str(row["source"])


# ----------------------------------------------------------------------------------- models and training


@dataclass
class AttentionModel:
    """A one-layer attention denoiser: linear (Eq. 11) or softmax (Eq. 12), weights W_KQ, W_PV (n x n).

    ``model(batch)`` (or ``model.predict(X, x_query)``) returns x̂ (B, n) as a numpy array;
    ``model.mse(batch)`` the per-prompt MSE per component. α = mean diag W_PV, β = mean diag W_KQ.
    """

    model: str
    W_KQ: object
    W_PV: object
    extra: dict = field(default_factory=dict)  # a registered model's other parameters by name (e.g. λ)
    options: dict = field(default_factory=dict)  # the model's options (icdenoise.models.get), e.g. a depth model's

    def predict(self, X, x_query):
        """x̂ of Eq. 11 (linear), Eq. 12 (softmax) or another registered model for contexts X (B, L, n), queries x̃."""
        import torch

        from .models import attention, get

        params = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in self.extra.items()}
        W_KQ = torch.as_tensor(self.W_KQ, dtype=torch.float64)
        W_PV = torch.as_tensor(self.W_PV, dtype=torch.float64)
        X = torch.as_tensor(X, dtype=torch.float64)
        q = torch.as_tensor(x_query, dtype=torch.float64)
        with torch.no_grad():
            if self.options:
                return get(self.model, self.options).predict(X, q, {"W_KQ": W_KQ, "W_PV": W_PV, **params}).numpy()
            return attention(self.model, X, q, W_KQ, W_PV, **params).numpy()

    def __call__(self, batch: PromptBatch):
        return self.predict(batch.X, batch.x_query)

    def mse(self, batch: PromptBatch):
        """Per-prompt ‖x̂ − x‖²/n (the Eq. 1 loss per component), shape (B,)."""
        from .bayes import mse_per_component

        return mse_per_component(self(batch), batch.x_target)

    def summary(self) -> dict:
        """α, β and each matrix's distance from a scaled identity, ‖W − mean-diag·I‖_F/‖W‖_F (§3.1)."""
        from .models import get, weight_summary

        if self.options:  # e.g. a depth model: per weight set and their means
            return get(self.model, self.options).summary({"W_KQ": self.W_KQ, "W_PV": self.W_PV, **self.extra})
        return weight_summary(self.W_KQ, self.W_PV)


def build_model(
    model: str = "softmax",
    n: int | None = None,
    *,
    seed: int = 0,
    alpha: float | None = None,
    beta: float | None = None,
) -> AttentionModel:
    """An attention denoiser (Eq. 11 linear / Eq. 12 softmax) with n x n weights (n: the config's by default).

    With ``alpha`` and ``beta``: the scaled-identity weights W_PV = αI, W_KQ = βI of §3.1 (e.g. the
    sphere heuristic α = 1, β = 1/σZ²); otherwise the paper's initialisation U[−1/√n, 1/√n] from ``seed``
    (a torch generator seed; no config key).
    """
    import numpy as np
    import torch

    from .models import init_weights

    if model not in MODEL_NAMES:
        raise SettingsError(f"model {model!r} is unknown; allowed: {', '.join(MODEL_NAMES)}", "model")
    n = int(config_value(load_config(), GLOBAL_KEYS["n"]) if n is None else n)
    if (alpha is None) != (beta is None):
        raise SettingsError("give both alpha and beta (scaled identity) or neither (random initialisation)", "alpha")
    if alpha is not None:
        return AttentionModel(model, float(beta) * np.eye(n), float(alpha) * np.eye(n))
    W_KQ, W_PV = init_weights(n, torch.Generator().manual_seed(int(seed)))
    return AttentionModel(model, W_KQ.double().numpy(), W_PV.double().numpy())


def train_model(train_set: PromptBatch, test_set: PromptBatch, model: str, epochs: int, **train_config):
    """Train ``model`` (Eq. 11 or 12) on ``train_set`` as in §3: Adam on the per-component Eq. 1 loss.

    ``train_config``: the fields of icdenoise.TrainConfig; ``batch_size, lr, lr_milestones, lr_gamma,
    threads, device`` default to the config's (``train.*``, ``device``), the rest (``seed``, ``progress``,
    ...) to TrainConfig's. Returns icdenoise.train.TrainResult: per-epoch curves ``train_mse, test_mse,
    alpha, beta, lr`` (index 0 = initial weights) and final ``W_KQ, W_PV``.
    Raises TrainingDiverged when the loss becomes NaN/inf or explodes.
    """
    from .train import TrainConfig, train

    cfg, schema = load_config(), load_schema()
    keys = ("batch_size", "lr", "lr_milestones", "lr_gamma", "threads", "device")
    settings = {k: config_value(cfg, GLOBAL_KEYS[k], schema) for k in keys}
    settings["lr_milestones"] = tuple(settings["lr_milestones"])
    settings.update(train_config)
    return train(train_set, test_set, TrainConfig(model=model, epochs=int(epochs), **settings))


@dataclass
class TrainCaseResult:
    """What train_case returns (Fig. 3 runs): one row per seed, the curves, the trained models, settings, oracles."""

    rows: object  # pandas DataFrame, one row per seed
    curves: object  # pandas DataFrame: case, model, seed, epoch, split, mse, lr, alpha, beta
    models: dict = field(default_factory=dict)  # seed -> AttentionModel
    settings: dict = field(default_factory=dict)
    oracles: object = None  # oracle_mses table (Bayes and zero predictor)


def data_seed_index(settings: dict, seed: int) -> int:
    """The dataset a training seed uses: its own (dataset per_seed) or shared_data_seed (shared)."""
    return int(settings["shared_data_seed"]) if settings["dataset"] == "shared" else int(seed)


def check_device(device: str, style: str = "keyword") -> str:
    """The torch device 'auto'/'cpu'/'cuda' resolves to here; SettingsError when CUDA is asked for but absent."""
    from .config import gpu_visible

    unavailable = SettingsError(
        f"{option_name('device', style)} {device!r}: CUDA is not available on this machine "
        "(no NVIDIA GPU visible, or torch.cuda.is_available() is False); allowed here: auto, cpu",
        option_name("device", style),
    )
    if device.startswith("cuda") and not gpu_visible():  # fail before the seconds-long torch import
        raise unavailable
    from .train import DeviceUnavailable, resolve_device

    try:
        return str(resolve_device(device))
    except DeviceUnavailable:
        raise unavailable from None
    except RuntimeError as exc:
        raise SettingsError(f"{option_name('device', style)} {device!r}: {exc}", option_name("device", style)) from None


def run_config(settings: dict, case: str) -> dict:
    """The workflow-shaped config of a settings dict (paper_settings), for the run layer's planner."""
    return {
        **{k: settings[k] for k in ("base_seed", "dataset", "shared_data_seed", "n", "L", "n_train", "n_test")},
        "train": {k: settings[k] for k in ("batch_size", "lr", "lr_milestones", "lr_gamma")},
        "cases": {case: {**task_params(settings), "epochs": settings["epochs"]}},
    }


def train_case(
    case: str,
    model: str,
    seeds=(0,),
    *,
    progress: bool | None = None,
    on_seed: Callable[[dict], None] | None = None,
    on_start: Callable[[dict, object], None] | None = None,
    style: str = "keyword",
    model_options: dict | None = None,
    **overrides,
) -> TrainCaseResult:
    """Sample, train and summarise ``model`` on ``case`` for each seed: one run of Fig. 3 per seed.

    ``model_options``: the model's options (icdenoise.models.get), e.g. a depth model's ``{"layers": 3,
    "tied": True}``; its rows then also hold ``layers``, ``tied`` and per weight set t ``lam_t, alpha_t, beta_t``.

    Settings as in paper_settings (the paper's by default; ``epochs``, ``L``, ``lr``, ... override).
    Each seed samples n_train + n_test prompts (§2.2) and trains linear (Eq. 11) or softmax (Eq. 12)
    attention with Adam (§3); seeds are derived as the workflow derives them (see the module docstring),
    so the config's settings reproduce the workflow's runs exactly. Rows: ``alpha, beta, abs_alpha,
    abs_beta, alpha_beta, dist_KQ, dist_PV, train_mse, test_mse`` (final epoch), the expected ``bayes_mse``
    (Props. 2-4: closed form for subspace, Monte Carlo ± ``bayes_mse_se`` otherwise), ``zero_mse``,
    ``test_over_bayes`` and the settings. ``on_start(settings, oracles)`` and ``on_seed(row)`` are called
    as the work proceeds. Raises SettingsError on a bad setting and TrainingDiverged naming the seed.
    """
    import numpy as np
    import pandas as pd

    if model not in MODEL_NAMES:
        raise SettingsError(
            f"{option_name('model', style)} {model!r} is unknown; allowed: {', '.join(MODEL_NAMES)}",
            option_name("model", style),
        )
    seeds = [seeds] if isinstance(seeds, int) else list(seeds)
    bad = [s for s in seeds if not isinstance(s, (int, np.integer)) or s < 0]
    if not seeds or bad or len(set(seeds)) != len(seeds):
        raise SettingsError(
            f"{option_name('seeds', style)} = {seeds}: give one or more distinct integers >= 0",
            option_name("seeds", style),
        )
    options = dict(model_options or {})
    if options:
        from . import models as _models

        try:
            _models.get(model, options)
        except (ValueError, TypeError) as exc:
            msg = (
                str(exc) if isinstance(exc, ValueError) else f"model {model!r} takes no options ({', '.join(options)})"
            )
            raise SettingsError(f"{option_name('model', style)} {model}: {msg}", option_name("model", style)) from exc
    s = paper_settings(case, style=style, **overrides)
    device = check_device(s["device"], style)  # the first torch import: bad settings fail fast without it
    from .train import TrainingDiverged

    oracles = oracle_mses(
        case, monte_carlo=case != "subspace", style=style, **{k: v for k, v in s.items() if k != "case"}
    )
    bayes, bayes_se, bayes_src = reference_mse(oracles, "bayes")
    zero = reference_mse(oracles, "zero")[0]
    s["device_used"] = device
    if on_start is not None:
        on_start(s, oracles)
    params = task_params(s)
    from .runs import plan_runs, train_runs

    planned = plan_runs(run_config(s, case), "training_dynamics", case=case, models=[model], seeds=seeds)
    if options:
        from dataclasses import replace

        planned = [replace(r, settings={**r.settings, "model_options": options}) for r in planned]
    rows, curves, models = [], [], {}
    for run in planned:  # one seed at a time, so that on_seed reports each as it finishes
        seed, data_index, data_rng, train_rng = run.seed, run.data_index, run.data_seed, run.train_seed
        try:
            res = train_runs([run], device=s["device"], threads=int(s["threads"]), progress=progress)[0].result
        except TrainingDiverged as exc:
            setting_text = " ".join(f"{k}={s[k]}" for k in ("n", "L", *params, "epochs", "n_train", "batch_size", "lr"))
            raise TrainingDiverged(f"seed {seed} diverged (case={case} model={model} {setting_text}): {exc}") from exc
        a, b = float(res.alpha[-1]), float(res.beta[-1])
        row = dict(
            case=case,
            model=model,
            seed=seed,
            data_seed=data_index,
            data_rng_seed=data_rng,
            train_rng_seed=train_rng,
            epochs=int(s["epochs"]),
            alpha=a,
            beta=b,
            abs_alpha=abs(a),
            abs_beta=abs(b),
            alpha_beta=a * b,
            dist_KQ=res.info["dist_KQ"],
            dist_PV=res.info["dist_PV"],
            train_mse=float(res.train_mse[-1]),
            test_mse=float(res.test_mse[-1]),
            bayes_mse=bayes,
            bayes_mse_se=bayes_se,
            bayes_source=bayes_src,
            zero_mse=zero,
            test_over_bayes=float(res.test_mse[-1]) / bayes,
            n=s["n"],
            L=s["L"],
            **params,
            n_train=s["n_train"],
            n_test=s["n_test"],
            batch_size=s["batch_size"],
            lr=s["lr"],
            lr_milestones=",".join(map(str, s["lr_milestones"])),
            lr_gamma=s["lr_gamma"],
            device=res.device,
            seconds=res.seconds,
        )
        if options:  # a model with options: its settings and each weight set's λ, α, β
            m = _models.get(model, options)
            row.update(layers=int(getattr(m, "K", 1)), tied=bool(getattr(m, "tied", True)))
            row.update({k: float(v) for k, v in res.info.items() if k.split("_")[0] in ("lam", "alpha", "beta")})
        rows.append(row)
        E = len(res.train_mse)
        for split in ("train", "test"):
            curves.append(
                pd.DataFrame(
                    {
                        "case": case,
                        "model": model,
                        "seed": seed,
                        "epoch": np.arange(E),
                        "split": split,
                        "mse": getattr(res, f"{split}_mse"),
                        "lr": res.lr,
                        "alpha": res.alpha,
                        "beta": res.beta,
                    }
                )
            )
        extra = {k: v for k, v in res.params.items() if k not in ("W_KQ", "W_PV")}
        models[seed] = AttentionModel(model, res.params["W_KQ"], res.params["W_PV"], extra, options)
        if on_seed is not None:
            on_seed(row)
    return TrainCaseResult(
        rows=pd.DataFrame(rows), curves=pd.concat(curves, ignore_index=True), models=models, settings=s, oracles=oracles
    )
