"""Helpers for the tests that drive the Snakemake workflow in a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
PAPER_CONFIG = REPO / "config" / "config.yaml"
SMOKE_CONFIG = REPO / "config" / "smoke.yaml"
# Every output of a config lies under results/<run_name>/ (workflow/rules/common.smk: RESULTS).
SMOKE_RESULTS = "results/smoke"
PAPER_RESULTS = "results/paper"


def snakemake_exe() -> str:
    """The snakemake next to this Python (the project's venv), else the one on PATH."""
    here = Path(sys.executable).parent / "snakemake"
    return str(here) if here.exists() else "snakemake"


def run_snakemake(workdir, *args, configfile=SMOKE_CONFIG, timeout=900, env=None, check=True):
    """Run the project's workflow in ``workdir``; return the CompletedProcess (stdout+stderr merged)."""
    cmd = [snakemake_exe(), "-s", str(SNAKEFILE), "--directory", str(workdir)]
    if configfile is not None:
        cmd += ["--configfile", str(configfile)]
    cmd += list(args)
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout, env=full_env
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed (rc={proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-6000:]}")
    return proc


def job_counts(output: str) -> dict[str, int]:
    """Parse the 'Job stats' table that snakemake prints in a (dry) run."""
    m = re.search(r"Job stats:\n.*?\n-+\s+-+\n(.*?)\n\s*total\s+(\d+)", output, re.S)
    if not m:
        raise AssertionError(f"no job stats in snakemake output:\n{output[-3000:]}")
    counts = {}
    for line in m.group(1).strip().splitlines():
        name, count = line.split()
        counts[name] = int(count)
    counts["total"] = int(m.group(2))
    return counts
