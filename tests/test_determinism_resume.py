"""Kill and resume, and determinism: one more smoke run, SIGKILLed while training and resumed.

Scenario: the whole process group (Snakemake and the jobs it started) gets SIGKILL while
training jobs run: what a lost node, the OOM killer of a job's cgroup or ``scancel`` does. Nothing
can clean up: Snakemake's lock files and incomplete markers stay, a job may have written its
output without Snakemake having recorded it, a writer may leave a temporary file. The same
command must then finish the run, redo only what was not recorded as complete, and leave no
temporary file. (Killing only the Snakemake process would let its jobs run on as orphans.)

The resumed run is also the second smoke run of the determinism check: its tables must equal, byte
for byte, those of the session's uninterrupted ``smoke_run`` in another directory. Timings and
library versions live only in ``run_metadata``, which is the one table allowed to differ.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from icdenoise.io import load_run
from workflow_utils import SMOKE_CONFIG, SMOKE_RESULTS, SNAKEFILE, snakemake_exe

pytestmark = pytest.mark.slow

TIMING_TABLES = {"run_metadata.parquet"}  # seconds, versions, device: expected to differ between runs
# A kill must not land before this: the resume then has to prove it keeps finished training runs.
KILL_DEADLINE_S = 900


def incomplete_outputs(workdir: Path) -> set[str]:
    """Outputs Snakemake has marked incomplete (jobs started, not recorded as finished)."""
    marks = workdir / ".snakemake" / "incomplete"
    out = set()
    for f in marks.rglob("*") if marks.exists() else []:
        if f.is_file() and f.name != "migration_underway" and not f.name.startswith("@"):
            try:
                out.add(base64.urlsafe_b64decode(f.name).decode())
            except ValueError:
                pass
    return out


def result_files(workdir: Path) -> dict[str, int]:
    """Output files under results/ (not logs or benchmarks) and their mtimes in ns."""
    res = workdir / SMOKE_RESULTS
    return {
        str(p.relative_to(workdir)): p.stat().st_mtime_ns
        for p in res.rglob("*")
        if p.is_file() and p.relative_to(res).parts[0] not in ("logs", "benchmarks")
    }


def jobs_run(output: str) -> set[str]:
    """The output files of every job a Snakemake run started (from its job descriptions)."""
    outs = set()
    for m in re.finditer(r"^(?:local)?rule \w+:\n(?:[ \t]+\w+: .*\n)*?[ \t]+output: (.*)$", output, re.M):
        outs.update(s.strip() for s in m.group(1).split(","))
    return outs


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("resume")
    cmd = [
        snakemake_exe(),
        "-s",
        str(SNAKEFILE),
        "--directory",
        str(workdir),
        "--configfile",
        str(SMOKE_CONFIG),
        "--cores",
        "2",
    ]
    first_log = workdir.parent / f"{workdir.name}-first.log"
    t0 = time.monotonic()
    with open(first_log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            while True:
                runs = {  # finished files: not a writer's temporary ".<name>.*.tmp*" (it is not marked incomplete)
                    p
                    for p in result_files(workdir)
                    if p.startswith(f"{SMOKE_RESULTS}/runs/fig3/") and not Path(p).name.startswith(".")
                }
                running = {p for p in incomplete_outputs(workdir) if p.startswith(f"{SMOKE_RESULTS}/runs/fig3/")}
                if runs - running and running:  # a finished training run, and one in progress
                    break
                if proc.poll() is not None:
                    pytest.fail(
                        f"the first run ended (rc={proc.returncode}) before it could be killed while "
                        f"training:\n{first_log.read_text()[-3000:]}"
                    )
                if time.monotonic() - t0 > KILL_DEADLINE_S:
                    pytest.fail("no training job ran within the deadline")
                time.sleep(0.05)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # Snakemake and every job it started
            proc.wait()
    killed_after = time.monotonic() - t0
    incomplete = incomplete_outputs(workdir)
    before = result_files(workdir)
    completed = {p: m for p, m in before.items() if p not in incomplete}
    stale_locks = sorted(p.name for p in (workdir / ".snakemake" / "locks").glob("*"))
    # What a writer killed between creating and renaming its temporary file leaves behind:
    planted = workdir / SMOKE_RESULTS / "tables" / ".training_curves.parquet.killed.tmp.parquet"
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_bytes(b"partial")

    t1 = time.monotonic()
    resumed = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1800)
    resume_s = time.monotonic() - t1
    info = dict(
        workdir=workdir,
        killed_after=killed_after,
        resume_s=resume_s,
        completed=completed,
        incomplete=incomplete,
        stale_locks=stale_locks,
        resumed=resumed,
        first=first_log.read_text(),
    )
    print(
        f"\nkill-and-resume: SIGKILL after {killed_after:.1f} s with {len(completed)} outputs complete "
        f"({sum(p.startswith(f'{SMOKE_RESULTS}/runs/fig3/') for p in completed)} training runs) and "
        f"{len(incomplete)} in progress; resume took {resume_s:.1f} s and ran {len(jobs_run(resumed.stdout))} "
        f"output files' jobs"
    )
    return info


def test_resume_after_sigkill_finishes_without_redoing_finished_jobs(killed_and_resumed):
    r = killed_and_resumed
    out = r["resumed"].stdout
    assert r["resumed"].returncode == 0, out[-5000:]
    assert r["stale_locks"], "the kill should have left Snakemake's locks behind"
    assert "removed stale Snakemake locks left by a killed run" in out
    assert any(p.startswith(f"{SMOKE_RESULTS}/runs/fig3/") for p in r["completed"])
    redone = jobs_run(out)
    assert redone, out[-3000:]
    assert not redone & set(r["completed"]), f"finished jobs were redone: {sorted(redone & set(r['completed']))}"
    assert r["incomplete"] <= redone  # what was in progress at the kill was run again
    after = result_files(r["workdir"])
    changed = [p for p, m in r["completed"].items() if after.get(p) != m]
    assert not changed, f"outputs completed before the kill were rewritten: {changed}"
    for fig in ("fig3.pdf", "fig3.png"):
        assert (r["workdir"] / SMOKE_RESULTS / "figures" / fig).exists()
    assert not incomplete_outputs(r["workdir"])


def test_no_partial_or_temporary_file_survives(killed_and_resumed):
    results = killed_and_resumed["workdir"] / SMOKE_RESULTS
    assert not sorted(results.rglob(".*.tmp*")), "temporary files left under results/"
    for p in results.rglob("*.parquet"):
        pd.read_parquet(p)  # every table is whole
    for p in (results / "runs").rglob("*.npz"):
        with np.load(p) as z:
            z.files  # noqa: B018  (every archive opens)


def test_tables_are_byte_identical_between_two_runs(smoke_run, killed_and_resumed):
    a, b = smoke_run / SMOKE_RESULTS, killed_and_resumed["workdir"] / SMOKE_RESULTS
    parquets = sorted(str(p.relative_to(a)) for p in a.rglob("*.parquet"))
    assert parquets == sorted(str(p.relative_to(b)) for p in b.rglob("*.parquet"))
    differ = [p for p in parquets if (a / p).read_bytes() != (b / p).read_bytes()]
    assert {Path(p).name for p in differ} <= TIMING_TABLES, f"tables differ between two runs: {differ}"
    data = sorted(str(p.relative_to(a)) for p in (a / "data").rglob("*.npz"))
    assert data and all((a / p).read_bytes() == (b / p).read_bytes() for p in data)
    for p in sorted((a / "runs" / "fig3").rglob("*.npz")):  # run files: same arrays; meta differs in seconds
        (xa, ma), (xb, mb) = load_run(p), load_run(b / p.relative_to(a))
        assert xa.keys() == xb.keys() and all(xa[k].tobytes() == xb[k].tobytes() for k in xa), p
        timing = {"seconds", "ensemble_seconds"}  # wall-clock facts, not results
        assert {k: v for k, v in ma.items() if k not in timing} == {k: v for k, v in mb.items() if k not in timing}


def test_versions_and_device_only_in_run_metadata(smoke_run):
    tables = smoke_run / SMOKE_RESULTS / "tables"
    meta = pd.read_parquet(tables / "run_metadata.parquet")
    assert {"device", "seconds", "version_python", "version_torch", "version_numpy"} <= set(meta.columns)
    assert meta["device"].notna().all()
    for p in tables.glob("*.parquet"):
        if p.name in TIMING_TABLES:
            continue
        cols = set(pd.read_parquet(p).columns)
        leaked = {c for c in cols if c in ("device", "seconds", "hostname") or c.startswith("version")}
        assert not leaked, f"{p.name} holds run metadata {leaked}"
