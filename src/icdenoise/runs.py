"""The run layer: a training run as a value, the one seed recipe, and the one path that trains runs and records them.

* :class:`Run`: study, case, model, seed, settings and the seeds derived from them (data, initial weights and batch
  order, and for an online run its held-out test prompts).
* :func:`plan_runs`: a study's runs from the config. The study module says which runs it wants
  (``wanted_runs(config, **selection)``, a list of :class:`RunSpec`); this function adds their seeds. It holds the
  only seed recipe: the workflow's rules, the CLI and the Python API all plan through it.
* :func:`train_runs`: trains a list of runs as batched ensembles (:func:`icdenoise.train.train_ensemble`) and
  records each (:class:`Record`: arrays, metadata with settings and weight summary, and its run file when it has
  one). Every training study goes through it; a study keeps only what it evaluates afterwards.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

from .tasks import derive_seed

log = logging.getLogger("icdenoise")

#: The seed parts of the studies that existed before this layer (their results stay bit for bit): kind -> parts of
#: ``derive_seed(base_seed, *parts)``. A study not listed gets :func:`_uniform_parts`.
_LEGACY_PARTS: dict[str, dict[str, Callable]] = {
    "training_dynamics": {
        "data": lambda r: ("data", r.case, r.data_index),
        "train": lambda r: ("train", r.case, r.model, r.seed),
    },
    "context_sweep": {
        "data": lambda r: ("context_sweep_data", r.tags["L"], r.seed),
        "train": lambda r: ("context_sweep_train", r.model, r.tags["L"], r.seed),
    },
    "dim_shift": {
        "data": lambda r: ("dim_shift_data", r.case, r.seed),
        "train": lambda r: ("dim_shift_train", r.case, r.model, r.seed),
    },
    "gap_study": {
        "data": lambda r: (
            ("gap_online", r.case, r.tags["L"], *([] if r.tags.get("stream") == "shared" else [r.seed]))
            if r.online
            else ("gap_data", r.case, r.seed)
        ),
        "train": lambda r: ("gap_train", r.case, r.model, r.seed),
        "test": lambda r: ("gap_online_test", r.case, r.tags["L"], r.seed),
    },
}
#: Studies whose runs are another study's runs on other data, with that study's seeds (deviation (c) retrains the
#: Figure 3 subspace/linear runs on the other dataset choice).
_SEEDS_OF = {"dataset_choice": "training_dynamics"}


def _uniform_parts(r: RunSpec, kind: str) -> tuple:
    """A new study's seeds: the data from (study, case, data key), the weights from the whole identity of the run."""
    if kind == "train":
        return (r.study, "train", r.case, r.model, *(f"{k}={v}" for k, v in sorted(r.tags.items())), r.seed)
    return (r.study, kind, r.case, *r.data_key)


@dataclass(frozen=True)
class RunSpec:
    """What a study asks for, before seeds: one run of ``model`` on ``case`` with training seed ``seed``.

    ``settings``: ``n, L, epochs, n_train, n_test, case_params`` and ``train`` (batch_size, lr, lr_milestones,
    lr_gamma), optionally ``model_options`` (the model's options, :func:`icdenoise.models.get`), ``eval_every``,
    ``pool`` (prompts in the dataset, default n_train + n_test), ``sigma_c2`` (a noisy context Y = X + Z of that
    variance in training and test prompts, :mod:`icdenoise.noisy_tasks`; absent: the clean context), ``train_stop``
    (train on prompts [0, train_stop), default n_train), ``test_start`` (test on [test_start, pool), default
    n_train) and ``online`` ({"prompts": per epoch, "sampler"}: fresh training prompts every epoch, then n_test
    held-out prompts of their own; with ``sigma_c2`` both noisy). ``tags`` name the run within its study
    ({"L": 500}, {"N": 800}); ``data_index`` is the dataset a seed uses (its own, or a shared one); ``data_key``
    what identifies its dataset in the uniform seed recipe (default (data_index,)); ``data_path`` a prompt file that
    holds it.
    """

    study: str
    case: str
    model: str
    seed: int
    settings: Mapping
    tags: Mapping = field(default_factory=dict)
    data_index: int | None = None
    data_key: tuple = ()
    data_path: str | None = None

    @property
    def online(self) -> bool:
        return bool(self.settings.get("online"))


@dataclass(frozen=True)
class Run(RunSpec):
    """A planned run: a :class:`RunSpec` with its derived seeds ({"data", "train"} and, online, "test")."""

    seeds: Mapping = field(default_factory=dict)

    @property
    def data_seed(self) -> int:
        """The sampling seed of the run's dataset (its online stream for an online run)."""
        return int(self.seeds["data"])

    @property
    def train_seed(self) -> int:
        """Initial weights and batch order."""
        return int(self.seeds["train"])

    @property
    def label(self) -> str:
        tags = "".join(f" {k}={v}" for k, v in self.tags.items())
        return f"case={self.case} model={self.model} seed={self.seed}{tags} ({self.study})"

    def to_param(self) -> dict:
        """Plain dicts and lists (a Snakemake param; :meth:`from_param` reads it back)."""
        d = asdict(self)
        d["data_key"] = list(self.data_key)
        return d

    @classmethod
    def from_param(cls, d: Mapping) -> Run:
        d = dict(d)
        d["data_key"] = tuple(d.get("data_key") or ())
        return cls(**d)


def job_seed(config: Mapping, *parts) -> int:
    """A job's random seed from ``base_seed`` and the job's identity (never from the clock)."""
    return derive_seed(config["base_seed"], *parts)


def baseline_seed(config: Mapping, case: str, data_index: int) -> int:
    """The fresh prompts of the oracle baselines of a case's dataset ``data_index`` (rule evaluate_baselines, the
    API's oracle_mses)."""
    return job_seed(config, "baselines_fresh", case, int(data_index))


def derive_run_seeds(config: Mapping, spec: RunSpec) -> Run:
    """The seed recipe: ``spec`` with its data, train and (online) test seeds."""
    if spec.data_index is None:
        spec = RunSpec(**{**asdict(spec), "data_index": int(spec.seed)})
    if not spec.data_key:
        spec = RunSpec(**{**asdict(spec), "data_key": (int(spec.data_index),)})
    recipe = _LEGACY_PARTS.get(_SEEDS_OF.get(spec.study, spec.study))
    kinds = ("data", "train", "test") if spec.online else ("data", "train")
    seeds = {k: job_seed(config, *(recipe[k](spec) if recipe else _uniform_parts(spec, k))) for k in kinds}
    return Run(**asdict(spec), seeds=seeds)


def plan_runs(config: Mapping, study: str, **selection) -> list[Run]:
    """Every run ``study`` wants under ``config`` (``selection`` narrows it: case=..., model=..., L=...), with seeds.

    The study module ``icdenoise.studies.<study>`` says which runs it wants (``wanted_runs``)."""
    module = importlib.import_module(f".studies.{study}", __package__)
    return [derive_run_seeds(config, spec) for spec in module.wanted_runs(config, **selection)]


def train_settings(config: Mapping) -> dict:
    """The ``train`` block's settings that change results (``threads`` changes only speed)."""
    return {k: v for k, v in config["train"].items() if k != "threads"}


def case_settings(config: Mapping, case: str, **extra) -> dict:
    """A run's settings from the config: n, L, epochs, n_train, n_test, the case's sampler parameters, training."""
    block = config["cases"][case]
    return {
        "n": int(config["n"]),
        "L": int(config["L"]),
        "epochs": int(block["epochs"]),
        "n_train": int(config["n_train"]),
        "n_test": int(config["n_test"]),
        "case_params": {k: v for k, v in block.items() if k != "epochs"},
        "train": train_settings(config),
        **extra,
    }


# ----------------------------------------------------------------------------- training and recording


@dataclass
class Record:
    """A trained run: the run, its TrainResult, the arrays and metadata its run file stores."""

    run: Run
    result: object  # icdenoise.train.TrainResult
    meta: dict

    @property
    def arrays(self) -> dict:
        return self.result.arrays()


def sample_settings_prompts(case: str, num_prompts: int, seed: int, settings: Mapping):
    """``num_prompts`` prompts of a run's settings: clean (:func:`tasks.sample_prompts`), or with ``settings
    ["sigma_c2"]`` set a noisy context Y = X + Z, Z ~ N(0, σ_c² I) (:func:`noisy_tasks.sample_noisy_prompts`)."""
    from .noisy_tasks import sample_noisy_prompts
    from .tasks import sample_prompts

    n, L, cp = int(settings["n"]), int(settings["L"]), dict(settings["case_params"])
    if settings.get("sigma_c2") is None:
        return sample_prompts(case, int(num_prompts), int(seed), n=n, L=L, **cp)
    return sample_noisy_prompts(case, int(num_prompts), int(seed), n, L, sigma_c2=float(settings["sigma_c2"]), **cp)


class _Datasets:
    """The prompts of a chunk of runs, each dataset sampled (or read) once and shared by the runs that use it."""

    def __init__(self):
        self._cache: dict = {}

    def get(self, run: Run):
        from .io import load_prompts

        s = run.settings
        if run.data_path:
            key = ("file", run.data_path)
            if key not in self._cache:
                self._cache[key] = load_prompts(run.data_path)
            return self._cache[key]
        pool = int(s.get("pool") or s["n_train"] + s["n_test"])
        key = (run.case, int(s["n"]), int(s["L"]), pool, run.data_seed, repr(sorted(s["case_params"].items())))
        if s.get("sigma_c2") is not None:  # noisy context (noisy_tasks): its own datasets; absent, nothing changes
            key += ("sigma_c2", float(s["sigma_c2"]))
        if key not in self._cache:
            self._cache[key] = sample_settings_prompts(run.case, pool, run.data_seed, s)
        return self._cache[key]


def _member(run: Run, datasets: _Datasets, *, device: str, threads: int, progress: bool | None):
    """The ensemble member of ``run`` and the prompt parameters it records."""
    from .train import Member, OnlinePrompts, TrainConfig

    s = run.settings
    epochs = int(s["epochs"])
    cfg = TrainConfig.from_settings(
        run.model,
        epochs,
        s["train"],
        seed=run.train_seed,
        device=device,
        threads=threads,
        progress=s.get("progress", progress),
        eval_every=int(s.get("eval_every") or 1),
        label=run.label,
        model_options=dict(s.get("model_options") or {}),
    )
    n, L, case_params = int(s["n"]), int(s["L"]), dict(s["case_params"])
    if run.online:  # fresh prompts every epoch (noisy context with settings sigma_c2), held-out test prompts alike
        o, sigma_c2 = s["online"], s.get("sigma_c2")
        sigma_c2 = None if sigma_c2 is None else float(sigma_c2)
        stream = OnlinePrompts(
            run.case, n, L, case_params, run.data_seed, int(o["prompts"]), o.get("sampler", "numpy"), sigma_c2
        )
        test = sample_settings_prompts(run.case, int(s["n_test"]), int(run.seeds["test"]), s)
        return Member(stream, test, cfg), case_params if sigma_c2 is None else dict(case_params, sigma_c2=sigma_c2)
    batch = datasets.get(run)
    train_stop, test_start = int(s.get("train_stop") or s["n_train"]), int(s.get("test_start") or s["n_train"])
    if train_stop >= batch.num_prompts or test_start >= batch.num_prompts:
        raise ValueError(
            f"{run.label}: training on {train_stop} prompts, testing from prompt {test_start}, leaves no test "
            f"prompts ({batch.num_prompts} prompts in the dataset)"
        )
    return Member(batch.subset(slice(0, train_stop)), batch.subset(slice(test_start, None)), cfg), batch.params


def _meta(run: Run, member, res, prompt_params) -> dict:
    """What a run file stores besides its arrays: the run, its settings, how it was trained, its weight summary."""
    from .jobs import versions

    return {
        "study": run.study,
        "case": run.case,
        "model": run.model,
        "seed": int(run.seed),
        "train_seed": run.train_seed,
        "data_seed": run.data_seed,
        "epochs": int(run.settings["epochs"]),
        "n_train": int(member.train_set.num_prompts),
        "n_test": int(member.test_set.num_prompts),
        "L": int(run.settings["L"]),
        **{k: v for k, v in run.tags.items() if k != "L"},
        "prompt_params": prompt_params,
        "settings": {
            k: v for k, v in member.cfg.__dict__.items() if k != "progress" and not (k == "model_options" and not v)
        },
        "device": res.device,
        "seconds": res.seconds,
        "kernel": res.kernel,
        "ensemble_size": int(res.ensemble_size),
        "ensemble_seconds": float(res.ensemble_seconds),
        "versions": versions(),
        **{k: float(v) for k, v in res.info.items()},
    }


def train_runs(
    runs: Sequence[Run],
    outs: Sequence[str] | None = None,
    *,
    device: str = "auto",
    threads: int = 1,
    progress: bool | None = None,
    chunk: Callable[[Run], object] | None = None,
    evaluate: Callable[[list[Record]], None] | None = None,
) -> list[Record]:
    """Train ``runs`` as batched ensembles and record them (in the order of ``runs``); write ``outs[i]`` if given.

    ``chunk(run)`` groups the runs trained (and holding their prompts in memory) together: one ensemble per chunk,
    in order of first appearance; default one chunk. ``evaluate(records)`` is called on each chunk's records
    before their files are written, to add what the study evaluates to ``record.meta``. Each member's curves and
    weights are those it would get trained alone.
    """
    from .io import save_run
    from .train import train_ensemble

    runs = list(runs)
    if outs is not None and len(outs) != len(runs):
        raise ValueError(f"{len(runs)} runs but {len(outs)} output files")
    chunks: dict = {}
    for i, run in enumerate(runs):
        chunks.setdefault(chunk(run) if chunk else None, []).append(i)
    records: list[Record | None] = [None] * len(runs)
    for idxs in chunks.values():
        datasets = _Datasets()
        built = [_member(runs[i], datasets, device=device, threads=threads, progress=progress) for i in idxs]
        members = [m for m, _ in built]
        results = train_ensemble(members)
        recs = [
            Record(runs[i], res, _meta(runs[i], m, res, params))
            for i, (m, params), res in zip(idxs, built, results, strict=True)
        ]
        del datasets, built, members
        if evaluate is not None:
            evaluate(recs)
        for i, rec in zip(idxs, recs, strict=True):
            records[i] = rec
            res = rec.result
            if outs is not None:
                save_run(outs[i], rec.arrays, rec.meta)
            log.info(
                "%s: %d epochs on %s (%s kernel, ensemble of %d); final train %.5f test %.5f alpha %.4f beta %.4f",
                rec.run.label,
                rec.meta["epochs"],
                res.device,
                res.kernel,
                res.ensemble_size,
                res.train_mse[-1],
                res.test_mse[-1],
                res.alpha[-1],
                res.beta[-1],
            )
    return records


def runs_from_params(params: Sequence[Mapping]) -> list[Run]:
    """The runs a rule planned (its ``runs`` param, :meth:`Run.to_param` each)."""
    return [Run.from_param(p) for p in params]


def train_job(
    outs: Sequence[str], *, runs: Sequence[Mapping], device: str = "auto", threads: int = 1, gpu_token: int = 0
) -> list[Record]:
    """A training rule's job: the planned ``runs`` (rule params) trained and written to ``outs``, one file each."""
    from .jobs import prepare_torch

    prepare_torch(threads, gpu_token, device)
    return train_runs(runs_from_params(runs), outs, device=device, threads=threads)
