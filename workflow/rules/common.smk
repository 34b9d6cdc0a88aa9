# Shared helpers: config validation, seeds, targets (no rules in this file).

import functools
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

# The science lives in src/icdenoise; make the checkout's copy importable for the planning step.
sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from icdenoise.config import ConfigError, gpu_visible, prepare_config  # noqa: E402
from icdenoise.config import device_error, study_enabled  # noqa: E402
from icdenoise.fingerprint import code_fingerprint as _fingerprint  # noqa: E402
from icdenoise.resume import claim_workdir  # noqa: E402
from icdenoise.runs import baseline_seed, job_seed, plan_runs  # noqa: E402
from icdenoise.studies.registry import STUDIES, VERDICT_CATEGORY  # noqa: E402
from icdenoise.studies.registry import report_category  # noqa: E402
from icdenoise.studies import phase_diagram as pdiag  # noqa: E402
from icdenoise.studies.depth import jobs as depth_jobs  # noqa: E402
from icdenoise.studies.depth import plan as _depth_plan  # noqa: E402

SCHEMA = Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"

# Before any job runs (src/icdenoise/config.py, prepare_config): command-line keys a__b__c become
# nested keys, `key: null` removes a key, strings that read as the schema's type become that type,
# run_name is set (--config run_name, else the last --configfile's run_name or file name), settings
# that depend on others follow them (one line says so), and every problem is named by its key.
try:
    FOLLOWED = prepare_config(
        config,
        SCHEMA,
        cli_config=dict(workflow.config_settings.config),
        configfiles=workflow.config_settings.configfiles,
    )
except ConfigError as err:
    raise WorkflowError(str(err)) from None
validate(config, "../schemas/config.schema.yaml")  # also fills in the schema's defaults
if FOLLOWED and not (workflow.remote_exec or workflow.subprocess_exec):
    print(FOLLOWED, file=sys.stderr)

# A run killed by SIGKILL or a lost node leaves Snakemake's lock files behind. The main process
# holds an flock for its life; when no run of this workflow is alive here, those locks are stale
# and are removed, so the same command resumes (src/icdenoise/resume.py).
if not (workflow.remote_exec or workflow.subprocess_exec):
    WORKDIR_LOCK, stale_locks = claim_workdir()
    if stale_locks:
        print(
            "icdenoise: removed stale Snakemake locks left by a killed run "
            f"({', '.join(map(str, stale_locks))}); resuming",
            file=sys.stderr,
        )


onstart:
    # Jobs are about to start (not a dry run): device 'cuda' on a local run without a GPU fails here.
    if not workflow.touch and device_error(config, workflow.local_exec):
        raise WorkflowError(device_error(config, workflow.local_exec))


CASES = list(config["cases"])
MODELS = list(config["models"])
SEEDS = list(config["seeds"])
# Every output of this config lies under results/<run_name>/ (config.yaml: paper, smoke.yaml: smoke,
# --configfile my.yaml without run_name: my), so runs of different configs never replace each other.
# Snakemake's own metadata (.snakemake/) stays shared.
RUN_NAME = config["run_name"]
RESULTS = f"results/{RUN_NAME}"


def enabled(study):
    """Whether a study's figure is part of the default target (`<study>: {enabled: false}` turns it off)."""
    return study_enabled(config, study)


def data_seed(seed):
    """The dataset a training seed uses: its own (per_seed) or the shared one."""
    if config["dataset"] == "shared":
        return int(config["shared_data_seed"])
    return int(seed)


def data_seeds():
    return sorted({data_seed(s) for s in SEEDS})


def data_files(case):
    """The datasets of a case, in the order of data_seeds() (case may be a wildcard pattern)."""
    return [f"{RESULTS}/data/{case}/seed{s}.npz" for s in data_seeds()]


def case_params(case):
    """The sampler parameters of a case (its config block without the training-only ``epochs``)."""
    return {k: v for k, v in config["cases"][case].items() if k != "epochs"}


# Training settings that change results; `threads` only changes speed, so it is no rule param.
TRAIN_SETTINGS = {k: v for k, v in config["train"].items() if k != "threads"}


def seed_for(*parts):
    """A job's random seed, derived from base_seed and the job's identity (never from the clock); the seeds of
    training runs come from the run layer's plan (icdenoise.runs.plan_runs)."""
    return job_seed(config, *parts)


def run_params(runs):
    """Planned runs as plain dicts for a params entry (a change of any run's settings or seeds reruns its job)."""
    return [r.to_param() for r in runs]


def fig3_plan(case):
    """The Figure 3 runs of a case (models outer, seeds inner), each reading its data seed's prompt file."""
    return plan_runs(
        config,
        "training_dynamics",
        case=case,
        data_path=lambda c, i: f"{RESULTS}/data/{c}/seed{i}.npz",
    )


def fig3_data_seeds(case):
    """The sampling seed of each dataset of a case, in the order of data_seeds(): the plan's data seeds."""
    by_index = {r.data_index: r.data_seed for r in fig3_plan(case)}
    return [by_index[i] for i in data_seeds()]


def gpu_tokens():
    """Training jobs hold the `gpu` resource only where they will use a GPU.

    On a CPU-only machine `--resources gpu=1` would otherwise run the training jobs one at a
    time and leave the other cores idle. A cluster profile sets gpu=1 explicitly.
    """
    dev = config["device"]
    return 1 if dev == "cuda" or (dev == "auto" and gpu_visible()) else 0


def fig3_runs(case):
    """The Figure 3 run files of a case (case may be a wildcard pattern): models outer, seeds inner."""
    return [
        f"{RESULTS}/runs/fig3/{case}/{m}/seed{s}.npz" for m in MODELS for s in SEEDS
    ]


def context_sweep_runs(model):
    """Figure 4a run files of one model (may be "{model}"): L outer, seed inner (the order of its runs param)."""
    cs = config["context_sweep"]
    return [
        f"{RESULTS}/runs/context_sweep/L{L}/{model}/seed{s}.npz"
        for L in cs["L"]
        for s in cs["seeds"]
    ]


def softmax_runs(case):
    """The Figure 3 softmax runs of a case (none when softmax is not trained): what the landscape and the
    Hopfield iterations start from."""
    if "softmax" not in MODELS:
        return []
    return [f"{RESULTS}/runs/fig3/{case}/softmax/seed{s}.npz" for s in SEEDS]


def dim_shift_runs(case):
    """The runs Figure 4b evaluates for a case: subspace, the linear runs of train_dim_shift; sphere and
    gmm, the Figure 3 softmax runs of the dim_shift seeds."""
    seeds = config["dim_shift"]["seeds"]
    if case == "subspace":
        return [f"{RESULTS}/runs/dim_shift/subspace/linear/seed{s}.npz" for s in seeds]
    return [f"{RESULTS}/runs/fig3/{case}/softmax/seed{s}.npz" for s in seeds]


def gap_study_jobs():
    """Gap study (opt-in): (case, model, L) of every training job: the N sweep and online runs at gap_study.L,
    online only at the other gap_study.online_L for the online_L_cases."""
    gs = config["gap_study"]
    jobs = []
    for case, models in gs["runs"].items():
        extra = (
            [L for L in gs["online_L"] if L != gs["L"]]
            if case in gs["online_L_cases"]
            else []
        )
        jobs += [(case, model, L) for model in models for L in [gs["L"], *extra]]
    return jobs


def gap_study_files(kind):
    """The per-job gap-study tables of one kind ("runs" or "refs")."""
    return [
        f"{RESULTS}/evaluations/gap_study/{case}/{model}/L{L}_{kind}.parquet"
        for case, model, L in gap_study_jobs()
    ]


@functools.cache
def _script_fingerprint(script):
    base = Path(workflow.basedir)
    return _fingerprint(base / "workflow" / "scripts" / f"{script}.py", base / "src")


def code_fingerprint(script):
    """The param `code` of the jobs that run workflow/scripts/<script>.py, a hash of the contents of every
    src/icdenoise file the script imports, lazily and transitively (src/icdenoise/fingerprint.py), so that
    editing the package reruns the jobs that run the edited code. Computed per job, from file contents only,
    so the same on a cluster node as on the submitting host."""
    return lambda wildcards: _script_fingerprint(script)


def phase_diagram_files(kind):
    """Phase diagram (opt-in): the per-job tables of one kind ("runs" or "refs"), every block of every case."""
    return [
        f"{RESULTS}/evaluations/phase_diagram/{case}/{block}_{kind}.parquet"
        for case, block in pdiag.blocks(config)
    ]


def depth_plan(case, family, L):
    """The planned runs of one depth job (at the config's L with the Figure 3 runs' seeds, and those runs)."""
    return _depth_plan(config, case=case, family=family, L=L)


def depth_files(kind):
    """The per-job depth tables of one kind ("summary", "runs" or "layers")."""
    return [
        f"{RESULTS}/evaluations/depth/{case}/{family}/L{L}_{kind}.parquet"
        for case, family, L in depth_jobs(config)
    ]


# Final targets of the default target: each study's rule file extends this list with its figures.
FINAL_TARGETS = []
