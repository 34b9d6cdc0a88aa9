"""Job plumbing of the workflow's rule scripts (not science): log redirection, known-failure handling,
torch threads, library versions, import recording, and the one helper that turns a rule's
``snakemake`` object into a call of a study function.

The science modules (tasks, models, bayes, train, energy, landscape) never import this module;
the study modules (``icdenoise.studies.*``) use :func:`prepare_torch` and :func:`versions`.
"""

from __future__ import annotations

import contextlib
import logging
import platform
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path

from . import __version__
from .io import InputFileError

log = logging.getLogger("icdenoise")


#: Third-party packages whose import by a job the env check (tests/test_envs.py) verifies.
TRACKED_PACKAGES = (
    "numpy", "scipy", "torch", "numba", "pandas", "pyarrow", "matplotlib", "tqdm", "yaml", "jsonschema",
)  # fmt: skip


def _record_imports(rule: str) -> None:
    """With ICDENOISE_RECORD_IMPORTS=dir, note which tracked packages this job imported (dir/rule.txt)."""
    import os

    where = os.environ.get("ICDENOISE_RECORD_IMPORTS")
    if not where or not rule:
        return
    used = sorted({m.split(".")[0] for m in sys.modules} & set(TRACKED_PACKAGES))
    Path(where).mkdir(parents=True, exist_ok=True)
    with open(Path(where) / f"{rule}.txt", "a") as fh:
        fh.write(" ".join(used) + "\n")


def _process_times() -> tuple[float, float]:
    """(wall, CPU) seconds of this process since it started: imports included."""
    import os
    import time

    try:
        import psutil

        wall = time.time() - psutil.Process().create_time()
    except ImportError:  # psutil comes with Snakemake; without it, no wall time
        wall = float("nan")
    t = os.times()
    return wall, t.user + t.system


def _record_times(rule: str, wildcards: str) -> None:
    """With ICDENOISE_RECORD_TIMES=file, append this job's wall and CPU seconds since its process started.

    Counted from the process's start, so imports are included; every job's log ends with the same two
    numbers. (The rules have no ``benchmark:`` directive: its psutil polling adds to Snakemake's own CPU
    time for the whole run and misses much of a short job's CPU time.) ``benchmarks/bench_workflow.py``
    sums them per rule; the README's Performance section has the figures.
    """
    import os

    where = os.environ.get("ICDENOISE_RECORD_TIMES")
    if not where or not rule:
        return
    wall, cpu = _process_times()
    Path(where).parent.mkdir(parents=True, exist_ok=True)
    with open(where, "a") as fh:
        fh.write(f"{rule}\t{wildcards}\t{wall:.3f}\t{cpu:.3f}\n")


@contextlib.contextmanager
def job_logging(log_path: str | None, rule: str = "", wildcards: str = ""):
    """Send this job's stdout, stderr and logging to ``log_path``; a failure's traceback lands there too."""
    try:
        with _job_logging(log_path):
            yield
    finally:
        _record_imports(rule)
        _record_times(rule, wildcards)


def _known_failure(exc: BaseException) -> bool:
    """A failure whose message says it all (bad input file, diverged training, missing CUDA)."""
    if isinstance(exc, InputFileError):
        return True
    train = sys.modules.get("icdenoise.train")  # loaded only by jobs that train
    return train is not None and isinstance(exc, (train.TrainingDiverged, train.DeviceUnavailable))


@contextlib.contextmanager
def _job_logging(log_path: str | None):
    if not log_path:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        yield
        return
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    failure = None
    with open(log_path, "w", buffering=1) as fh:
        old = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = fh
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=fh, force=True)
        try:
            yield
            wall, cpu = _process_times()
            log.info("job done: %.1f s wall, %.1f s CPU (this process, imports included)", wall, cpu)
        except BaseException as exc:
            fh.write("".join(traceback.format_exception(exc)))
            fh.write(f"ERROR: {type(exc).__name__}: {exc}\n")
            if not _known_failure(exc):
                raise
            failure = exc
        finally:
            sys.stdout, sys.stderr = old
    if failure is not None:  # the job's stderr gets the message alone; the log keeps the traceback
        print(f"ERROR: {type(failure).__name__}: {failure}\n(traceback in {log_path})", file=sys.stderr)
        raise SystemExit(1)


def prepare_torch(threads: int, gpu_token: int, device: str) -> None:
    """Set torch's thread count from the rule's threads; say once in the log when training runs on the CPU."""
    import torch

    torch.set_num_threads(max(1, int(threads)))
    if device in ("auto", "cpu") and not torch.cuda.is_available():
        why = "this job holds a gpu resource token but " if gpu_token else ""
        log.info("%sCUDA is not available on this machine: training on CPU (%d thread(s))", why, threads)


def versions() -> dict:
    """Library versions for the run-metadata table (never stored inside result tables)."""
    import importlib.metadata as md

    out = {"python": platform.python_version(), "icdenoise": __version__}
    for pkg in ("numpy", "scipy", "torch", "pandas", "pyarrow"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[pkg] = md.version(pkg)
    return out


def plain(value):
    """A Snakemake params value (Namedlist, nested dicts/lists) as plain Python dicts and lists."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def rule_kwargs(
    sm, *, wildcards: Mapping[str, type] | None = None, threads: bool = False, gpu_token: bool = False
) -> dict:
    """The keyword arguments a rule passes to its study function: every named param (as plain values)
    but ``code``, the given wildcards converted by their type (e.g. ``{"seed": int}``), ``threads`` and,
    for training rules (``gpu_token=True``), the rule's ``gpu`` resource token and the config's ``device``.

    Placement and speed settings (``device``, threads) are read here, not declared as rule params:
    Snakemake reruns a job whose params change, and these do not change results. ``code`` (the
    fingerprint of the package code the script imports, :mod:`icdenoise.fingerprint`) is a param only
    so that Snakemake reruns the job when that code changes; no study function takes it."""
    kwargs = {name: plain(value) for name, value in sm.params.items() if name != "code"}
    for name, kind in (wildcards or {}).items():
        kwargs[name] = kind(sm.wildcards[name])
    if threads:
        kwargs["threads"] = sm.threads
    if gpu_token:
        kwargs["gpu_token"] = int(sm.resources.get("gpu", 0))
        kwargs.setdefault("device", sm.config.get("device", "auto"))
    return kwargs


def run_per_case(sm, func: Callable, **kwargs):
    """One job for every case of a rule: ``func(case, **kwargs, **per_case[case])`` for each case in order.

    ``kwargs["per_case"]`` ({case: {name: value}}, from the rule's ``per_case`` param) holds what differs
    between cases. Short per-case studies share one process so that each pays the imports (torch above
    all, pandas, scipy) once, not once per case; each case still writes its own output files."""
    per_case = kwargs.pop("per_case")

    def every_case():
        for case, own in per_case.items():
            log.info("case %s", case)
            func(case, **kwargs, **own)

    return run_rule(sm, every_case)


def run_rule(sm, func: Callable, *args, **kwargs):
    """Call ``func(*args, **kwargs)`` with this job's output and logging sent to the rule's log file."""
    wildcards = ",".join(f"{k}={v}" for k, v in sm.wildcards.items())
    with job_logging(sm.log[0] if sm.log else None, sm.rule, wildcards):
        return func(*args, **kwargs)
