"""The SLURM profile (profiles/slurm) against a real single-node SLURM cluster.

Two kinds of tests:

* ``test_profile_dry_run_*`` need no SLURM at all: they check that every key of the profile is a valid
  Snakemake 9 / slurm-plugin option and that a dry-run with the profile works on a machine where no
  SLURM command is on PATH. They run in every ``pytest`` run.

* The tests marked ``slurm`` start a real cluster (munged, slurmctld, slurmd on loopback, one fake GPU;
  see tests/slurm/cluster.sh), run the project's workflow with config/smoke.yaml through the profile and
  check that every job went through sbatch, that the training jobs got a GPU, that the result tables are
  byte-identical to a local run, and that a job failing on the cluster fails the workflow with its log
  shown. They need Linux, root, slurm-wlm or apt-get, and are opt-in because they start daemons as
  root and write /etc/slurm/slurm.conf (restored afterwards):

      ICDENOISE_SLURM_TESTS=1 pytest -m slurm tests/test_slurm.py      # locally, as root
      CI=true pytest                                                  # CI runs them by default

  ICDENOISE_SLURM_TESTS=0 disables them also under CI. Knobs: ICDENOISE_SLURM_TIMEOUT (seconds per
  workflow run, default 900), SLURM_TEST_GPUS / SLURM_TEST_CPUS (fake GPUs / CPUs of the test node,
  see cluster.sh), ICDENOISE_SLURM_SNAKEFILE / ICDENOISE_SLURM_CONFIGFILE (run another workflow,
  for developing the test itself).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from workflow_utils import SMOKE_RESULTS

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "profiles" / "slurm"
CLUSTER_SH = REPO / "tests" / "slurm" / "cluster.sh"
SNAKEFILE = Path(os.environ.get("ICDENOISE_SLURM_SNAKEFILE", REPO / "Snakefile"))
SMOKE_CONFIG = Path(os.environ.get("ICDENOISE_SLURM_CONFIGFILE", REPO / "config" / "smoke.yaml"))
# hard limit per workflow run: the smoke workflow (51 jobs) took 337 s through SLURM and 135 s locally
# on a 2-core machine (every SLURM job starts Snakemake twice: in the batch script and under srun)
TIMEOUT = int(os.environ.get("ICDENOISE_SLURM_TIMEOUT", "900"))

# rules that must be submitted with a GPU (set-resources in profiles/slurm/config.yaml)
TRAIN_RULES = {"train", "train_context_sweep", "train_dim_shift"}
# table columns that record wall-clock time (run_metadata.seconds): the only values allowed to differ
# between the SLURM and the local run; tables without them must be byte-identical
VOLATILE_COLUMNS = {"seconds"}
# SLURM client commands hidden from PATH in the dry-run test
SLURM_COMMANDS = {
    "sbatch",
    "srun",
    "salloc",
    "squeue",
    "sinfo",
    "sacct",
    "sacctmgr",
    "scancel",
    "scontrol",
    "sshare",
    "sstat",
    "sprio",
    "sreport",
    "sattach",
    "sbcast",
    "scrontab",
    "sdiag",
    "sh5util",
    "sjobexitmod",
    "sjstat",
    "smap",
    "sview",
    "strigger",
    "slurmctld",
    "slurmd",
    "slurmstepd",
}


def _slurm_skip_reason() -> str | None:
    flag = os.environ.get("ICDENOISE_SLURM_TESTS", "").strip().lower()
    in_ci = os.environ.get("CI", "").strip().lower() == "true"
    if flag in {"0", "false", "no"}:
        return "SLURM tests disabled by ICDENOISE_SLURM_TESTS=0"
    if flag not in {"1", "true", "yes"} and not in_ci:
        return (
            "SLURM integration tests are opt-in (they start munged/slurmctld/slurmd as root and write "
            "/etc/slurm/slurm.conf): set ICDENOISE_SLURM_TESTS=1 (CI=true enables them)"
        )
    if not sys.platform.startswith("linux"):
        return "SLURM tests need Linux"
    if os.geteuid() != 0:
        return "SLURM tests need root (they start the SLURM daemons and write /etc/slurm)"
    if not Path("/usr/sbin/slurmctld").exists() and shutil.which("apt-get") is None:
        return "SLURM tests need slurm-wlm installed or apt-get to install it"
    if shutil.which("timeout") is None:
        return "SLURM tests need coreutils' timeout"
    return None


def _plugin_skip_reason() -> str | None:
    try:
        import snakemake  # noqa: F401
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError as e:  # pragma: no cover - environment dependent
        return f"snakemake or snakemake-executor-plugin-slurm not installed: {e}"
    return None


_SLURM_SKIP = _slurm_skip_reason() or _plugin_skip_reason()
needs_cluster = pytest.mark.skipif(_SLURM_SKIP is not None, reason=_SLURM_SKIP or "")
needs_plugin = pytest.mark.skipif(_plugin_skip_reason() is not None, reason=_plugin_skip_reason() or "")
needs_workflow = pytest.mark.skipif(
    not (SNAKEFILE.is_file() and SMOKE_CONFIG.is_file()),
    reason=f"workflow not present yet ({SNAKEFILE} and {SMOKE_CONFIG} are needed)",
)


# --------------------------------------------------------------------------------------------- helpers
@dataclass
class Run:
    returncode: int
    output: str
    log: Path


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLURM_", "SBATCH_", "SRUN_")) and k not in {"SNAKEMAKE_PROFILE", "CUDA_VISIBLE_DEVICES"}
    }
    env.update(extra)
    return env


def _snakemake(args: list[str], log: Path, timeout: int = TIMEOUT, env: dict[str, str] | None = None) -> Run:
    """Run snakemake under a hard `timeout -s INT` (SIGINT lets Snakemake scancel its jobs), output to `log`."""
    cmd = ["timeout", "-s", "INT", "-k", "60", str(timeout), sys.executable, "-m", "snakemake", *map(str, args)]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as fh:
        fh.write("$ " + " ".join(cmd) + "\n")
        fh.flush()
        proc = subprocess.run(
            cmd,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env or _clean_env(),
            cwd=log.parent,
            timeout=timeout + 120,
        )
    return Run(proc.returncode, log.read_text(errors="replace"), log)


def _tail(text: str, n: int = 150) -> str:
    return "\n".join(text.splitlines()[-n:])


def _cluster(cmd: str, state: Path, env: dict[str, str], timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(CLUSTER_SH), cmd, str(state)], capture_output=True, text=True, env=env, timeout=timeout
    )


def _rule_of_logfile(path: str) -> str:
    """`.../.snakemake/slurm_logs/rule_<name>/<wildcards>/<jobid>.log` -> `<name>`."""
    parts = Path(path).parts
    i = parts.index("slurm_logs")
    assert parts[i + 1].startswith("rule_"), path
    return parts[i + 1][len("rule_") :]


def _tables(workdir: Path) -> dict[str, bytes]:
    root = workdir / SMOKE_RESULTS / "tables"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}


def _path_without_slurm(tmp: Path) -> str:
    """A PATH under which every command of the current PATH is found, except SLURM's."""
    farm = tmp / "bin-without-slurm"
    farm.mkdir()
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if not d or not Path(d).is_dir():
            continue
        for f in Path(d).iterdir():
            if f.name in SLURM_COMMANDS or (farm / f.name).exists() or (farm / f.name).is_symlink():
                continue
            if f.is_file() and os.access(f, os.X_OK):
                (farm / f.name).symlink_to(f)
    return str(Path(sys.executable).parent) + os.pathsep + str(farm)


TOY_SNAKEFILE = textwrap.dedent(
    """\
    rule all:
        input: expand("out/train/seed{seed}.txt", seed=[0, 1]), "out/prep.txt"

    rule prep:
        output: "out/prep.txt"
        shell: "echo prep > {output}"

    rule train:
        input: "out/prep.txt"
        output: "out/train/seed{seed}.txt"
        shell: "echo $CUDA_VISIBLE_DEVICES > {output}"
    """
)


# ------------------------------------------------------------------------------ dry-runs, no SLURM needed
@needs_plugin
def test_profile_dry_run_without_slurm_on_path(tmp_path):
    """Every profile key is a valid option (unknown ones abort with "unrecognized arguments"), the GPU
    request reaches the training rule, and neither SLURM daemons nor SLURM commands are needed."""
    (tmp_path / "Snakefile").write_text(TOY_SNAKEFILE)
    path = _path_without_slurm(tmp_path)
    env = _clean_env(PATH=path)
    assert shutil.which("sbatch", path=path) is None
    run = _snakemake(
        ["-s", tmp_path / "Snakefile", "--directory", tmp_path / "work", "--profile", PROFILE, "-n"],
        log=tmp_path / "dry-run.log",
        timeout=120,
        env=env,
    )
    assert run.returncode == 0, _tail(run.output)
    assert "Using profile" in run.output
    # the training rule got its GPU from set-resources, the other rule did not
    train_blocks = re.findall(r"^rule train:\n(?:    .*\n)*", run.output, flags=re.M)
    prep_blocks = re.findall(r"^rule prep:\n(?:    .*\n)*", run.output, flags=re.M)
    assert len(train_blocks) == 2 and all("gpu=1" in b for b in train_blocks), run.output
    assert prep_blocks and all("gpu=" not in b for b in prep_blocks), run.output


@needs_plugin
@needs_workflow
def test_profile_dry_run_of_workflow_without_slurm_on_path(tmp_path):
    path = _path_without_slurm(tmp_path)
    run = _snakemake(
        ["-s", SNAKEFILE, "--directory", tmp_path / "work", "--configfile", SMOKE_CONFIG, "--profile", PROFILE, "-n"],
        log=tmp_path / "dry-run.log",
        timeout=300,
        env=_clean_env(PATH=path),
    )
    assert run.returncode == 0, _tail(run.output)


# ------------------------------------------------------------------------------------ real SLURM cluster
@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """A running single-node cluster for this module; always torn down (jobs cancelled, daemons
    stopped by PID, /etc/slurm restored)."""
    state = tmp_path_factory.mktemp("slurm-cluster")
    env = _clean_env()
    # keep finished jobs visible to squeue/scontrol for the whole module (MinJobAge >= 3 x the
    # status-check interval is what the plugin needs; we also inspect jobs afterwards)
    env.setdefault("SLURM_TEST_MIN_JOB_AGE", "3600")
    # two fake GPUs and 4 announced CPUs (oversubscribing a 2-core CI machine): two training jobs run
    # at once, which roughly halves the wall time, dominated by the plugin's status polling
    env.setdefault("SLURM_TEST_GPUS", "2")
    env.setdefault("SLURM_TEST_CPUS", str(max(4, os.cpu_count() or 1)))
    try:
        up = _cluster("up", state, env, timeout=900)
        if up.returncode != 0:
            pytest.fail(f"could not start the SLURM test cluster:\n{up.stdout}\n{up.stderr}", pytrace=False)
        print(up.stderr)
        yield state
    finally:
        down = _cluster("down", state, env, timeout=180)
        print(down.stderr)
        assert down.returncode == 0, f"cluster teardown failed:\n{down.stdout}\n{down.stderr}"


# The cluster run builds Figure 3 (27 jobs at smoke scale): enough to prove sbatch submission, GPU
# requests and identical results, at a cost CI can afford.
FIG3_TARGETS = [f"{SMOKE_RESULTS}/figures/fig3.pdf", f"{SMOKE_RESULTS}/figures/fig3.png"]


@pytest.fixture(scope="module")
def local_reference(smoke_run):
    """The same smoke workflow run locally (the session's smoke run): the reference tables."""
    return smoke_run


@pytest.mark.slurm
@needs_cluster
@needs_workflow
def test_workflow_runs_through_slurm(slurm_cluster, local_reference, tmp_path):
    work = tmp_path / "cluster-run"
    run = _snakemake(
        [
            "-s",
            SNAKEFILE,
            "--directory",
            work,
            "--configfile",
            SMOKE_CONFIG,
            "--profile",
            PROFILE,
            "--slurm-init-seconds-before-status-checks",
            "2",
            "--verbose",
            *FIG3_TARGETS,
        ],
        log=tmp_path / "snakemake.log",
    )
    out = run.output
    assert run.returncode != 124, f"snakemake through SLURM timed out after {TIMEOUT}s:\n{_tail(out)}"
    assert run.returncode == 0, f"snakemake through SLURM failed (rc={run.returncode}):\n{_tail(out)}"

    # ---- every job that ran went through sbatch
    sbatch_calls = re.findall(r"^sbatch call: (sbatch .*)$", out, flags=re.M)
    submitted = re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.$", out, flags=re.M)
    remote_rules = re.findall(r"^rule (\w+):$", out, flags=re.M)
    assert remote_rules, "no job ran at all"
    assert len(sbatch_calls) == len(submitted) == len(remote_rules), (
        f"{len(remote_rules)} jobs, {len(sbatch_calls)} sbatch calls, {len(submitted)} submissions"
    )
    logdir = work / ".snakemake" / "slurm_logs"
    # one kept SLURM log per job (slurm-keep-successful-logs), none other
    assert sorted(p.resolve() for p in logdir.rglob("*.log")) == sorted(Path(log).resolve() for *_, log in submitted)

    by_rule: dict[str, list[str]] = {}
    for call in sbatch_calls:
        logpattern = re.search(r"--output (\S+)", call).group(1)
        by_rule.setdefault(_rule_of_logfile(logpattern), []).append(call)
    assert sorted(r for r, calls in by_rule.items() for _ in calls) == sorted(remote_rules)

    # ---- SLURM agrees: all jobs of this run (job name = run id) COMPLETED
    run_id = re.search(r"^SLURM run ID: (\S+)$", out, flags=re.M).group(1)
    q = subprocess.run(
        ["timeout", "10", "squeue", "--states=all", "--noheader", "--format=%i|%T", "--name", run_id],
        capture_output=True,
        text=True,
        check=True,
    )
    states = dict(line.split("|") for line in q.stdout.split())
    assert {jobid for _, jobid, _ in submitted} <= set(states), (states, submitted)
    assert {states[jobid] for _, jobid, _ in submitted} == {"COMPLETED"}, states

    # ---- training jobs were submitted with a GPU and saw one; the others were not
    train_jobs = [(jobid, Path(log)) for _, jobid, log in submitted if _rule_of_logfile(log) in TRAIN_RULES]
    assert train_jobs, f"no training job ({sorted(TRAIN_RULES)}) was submitted; rules: {sorted(set(remote_rules))}"
    for rule, calls in by_rule.items():
        for call in calls:
            if rule in TRAIN_RULES:
                assert re.search(r"(^| )--gpus=1( |$)", call), call
            else:
                assert "--gpus" not in call and "--gres" not in call, call
    gpu_call = next(c for r, cs in by_rule.items() if r in TRAIN_RULES for c in cs)
    print("sbatch line of a GPU job:", re.sub(r' --wrap=".*"$', ' --wrap="..."', gpu_call))
    for _, _jobid, log in submitted:
        text = Path(log).read_text(errors="replace")
        # the job's own snakemake (--verbose) logs its environment; SLURM sets CUDA_VISIBLE_DEVICES
        # only for jobs holding a GPU
        assert "environment: environ(" in text, log
        has_cvd = re.search(r"'CUDA_VISIBLE_DEVICES': '\d+'", text) is not None
        assert has_cvd == (_rule_of_logfile(log) in TRAIN_RULES), (log, has_cvd)
        assert "1 of 1 steps (100%) done" in text, log
    jobid = train_jobs[0][0]
    show = subprocess.run(
        ["timeout", "10", "scontrol", "show", "job", jobid], capture_output=True, text=True, check=True
    ).stdout
    assert re.search(r"TresPerJob=\S*gpu:1", show), show
    print(f"scontrol show job {jobid}:", " ".join(show.split()))

    # ---- same tables as the local run: byte for byte, except for wall-clock columns
    local_tables, cluster_tables = _tables(local_reference), _tables(work)
    assert local_tables, f"the local run wrote no parquet table under {local_reference}/{SMOKE_RESULTS}/tables"
    assert cluster_tables and set(cluster_tables) <= set(local_tables), (sorted(cluster_tables), sorted(local_tables))
    identical = [name for name in cluster_tables if cluster_tables[name] == local_tables[name]]
    print("byte-identical tables:", identical)
    for name in sorted(set(cluster_tables) - set(identical)):
        import pandas as pd

        local_df = pd.read_parquet(local_reference / SMOKE_RESULTS / "tables" / name)
        cluster_df = pd.read_parquet(work / SMOKE_RESULTS / "tables" / name)
        volatile = sorted(VOLATILE_COLUMNS & set(local_df.columns))
        assert volatile, f"table {name} differs between the SLURM and the local run"
        pd.testing.assert_frame_equal(
            cluster_df.drop(columns=volatile), local_df.drop(columns=volatile), check_exact=True
        )
        print(f"{name}: identical except for the wall-clock column(s) {volatile}")


@pytest.mark.slurm
@needs_cluster
@needs_workflow
def test_failing_job_fails_the_workflow_and_shows_its_log(slurm_cluster, tmp_path):
    # Snakemake merges several --configfile recursively: only train.lr changes, and training diverges.
    diverge = tmp_path / "diverge.yaml"
    diverge.write_text("run_name: smoke\ntrain:\n  lr: 1.0e+12\n")  # run_name: the target's results folder
    run = _snakemake(
        [
            "-s",
            SNAKEFILE,
            "--directory",
            tmp_path / "work",
            "--configfile",
            SMOKE_CONFIG,
            diverge,
            "--profile",
            PROFILE,
            "--slurm-init-seconds-before-status-checks",
            "2",
            f"{SMOKE_RESULTS}/runs/fig3/subspace/softmax/seed0.npz",
        ],
        log=tmp_path / "snakemake.log",
    )
    out = run.output
    assert run.returncode != 124, f"snakemake through SLURM timed out after {TIMEOUT}s:\n{_tail(out)}"
    assert run.returncode != 0, _tail(out)
    assert re.search(r"^Error in rule (\w+):", out, flags=re.M), _tail(out)
    assert re.search(r"SLURM-job '\d+' failed, SLURM status is: 'FAILED'", out), _tail(out)
    # the error names the job's SLURM log ...
    assert re.search(r"^    log: .*/\.snakemake/slurm_logs/rule_\w+/\S*\.log \(check log", out, flags=re.M), _tail(out)
    # ... and show-failed-logs prints the logs (the rule's own log, then the SLURM log; Snakemake 9.27
    # stops at the first missing or empty one), with the trainer's error in them
    assert re.search(r"^Logfile \S+:$", out, flags=re.M), _tail(out)
    assert "diverged" in out, _tail(out)


def _readme_override_commands() -> list[list[str]]:
    """The `snakemake --profile profiles/slurm --...-resources ...` examples of profiles/slurm/README.md."""
    import shlex

    text = (PROFILE / "README.md").read_text()
    section = text[text.index("### Overrides on the command line") : text.index("## Software environments")]
    cmds = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip().startswith("snakemake "):
                cmds.append(shlex.split(line.split(" # ", 1)[0]))
    return cmds


@needs_plugin
@needs_workflow
def test_readme_resource_overrides_keep_every_resource(tmp_path):
    """Each override example of the README, dry-run as printed: every job keeps the profile's resources
    (training rules: every entry of set-resources; the others: default-resources)."""
    import yaml

    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    training = profile["set-resources"]
    defaults = {k: v for k, v in profile["default-resources"].items() if k != "cpus_per_task"}
    cmds = _readme_override_commands()
    assert (
        len(cmds) == 2 and any("--set-resources" in c for c in cmds) and any("--default-resources" in c for c in cmds)
    )
    path = _path_without_slurm(tmp_path)
    for i, words in enumerate(cmds):
        assert words[:3] == ["snakemake", "--profile", "profiles/slurm"], words
        # the opt-in phase diagram too, so that its training rule (in set-resources) is planned
        extra = ["--config", "phase_diagram__enabled=true"]
        run = _snakemake(
            ["-s", SNAKEFILE, "--directory", tmp_path / f"work{i}", "--profile", PROFILE, *words[3:], *extra, "-n"],
            log=tmp_path / f"dry-run{i}.log",
            timeout=300,
            env=_clean_env(PATH=path),
        )
        assert run.returncode == 0, _tail(run.output)
        blocks = re.findall(r"^(?:local)?rule (\w+):\n((?:    .*\n)*)", run.output, flags=re.M)
        seen = set()
        for rule, body in blocks:
            res = re.search(r"^    resources: (.*)$", body, flags=re.M)
            if rule == "all" or res is None:
                continue
            have = dict(kv.split("=", 1) for kv in res.group(1).split(", "))
            want = training.get(rule, defaults)
            for key, value in want.items():
                assert have.get(key) == str(value), f"{' '.join(words)}: {rule} has {key}={have.get(key)}, not {value}"
            seen.add(rule)
        assert set(training) <= seen, seen
