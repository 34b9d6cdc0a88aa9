"""Time the whole workflow from an empty results folder: wall and CPU time in total and per rule.

    python benchmarks/bench_workflow.py [--repeats 3] [--configfile config/config.yaml] [--cores 8]
                                        [--out benchmarks/out/workflow.csv] [-- extra snakemake args]

Each repeat copies the checkout's workflow files into a fresh temporary directory (so the results
folder starts empty; the numba kernel cache of the checkout's src is reused, as after `make setup`)
and runs `snakemake --cores C --resources gpu=1` there. Total wall time is measured around the
run; total CPU time is the user + sys of the whole process tree (Snakemake and every job, from
getrusage of the waited-for children). Per rule, every job appends the wall and CPU seconds of its
own process since it started (imports included) to a file (ICDENOISE_RECORD_TIMES): the split
leaves out Snakemake's own scheduling. Prints medians over the repeats and writes every job's line
to the CSV.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COPY = ("Snakefile", "workflow", "config", "src", "envs", "profiles")


def one_run(args, extra: list[str]) -> tuple[float, float, list[dict]]:
    with tempfile.TemporaryDirectory(prefix="icdenoise-bench-") as tmp:
        work = Path(tmp)
        for name in COPY:
            src = REPO / name
            if src.is_dir():
                shutil.copytree(src, work / name, symlinks=True, ignore=shutil.ignore_patterns("results"))
            else:
                shutil.copy2(src, work / name)
        times = work / "job_times.tsv"
        env = {**os.environ, "ICDENOISE_RECORD_TIMES": str(times)}
        exe = Path(sys.executable).parent / "snakemake"
        cmd = [str(exe), "--cores", str(args.cores), "--resources", "gpu=1", "--configfile", args.configfile, *extra]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            sys.exit(f"snakemake failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        jobs = []
        for line in times.read_text().splitlines():
            rule, wildcards, jwall, jcpu = line.split("\t")
            jobs.append(dict(rule=rule, wildcards=wildcards, wall=float(jwall), cpu=float(jcpu)))
        return wall, cpu, jobs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cores", type=int, default=8)
    ap.add_argument("--configfile", default="config/config.yaml")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "out" / "workflow.csv"))
    args, extra = ap.parse_known_args()
    extra = [a for a in extra if a != "--"]
    totals, rows = [], []
    for rep in range(args.repeats):
        wall, cpu, jobs = one_run(args, extra)
        totals.append((wall, cpu))
        rows += [dict(repeat=rep, **j) for j in jobs]
        print(f"run {rep + 1}: wall {wall:.1f} s, CPU {cpu:.1f} s (whole process tree), {len(jobs)} jobs", flush=True)
    per_rule: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    for rep in range(args.repeats):
        acc: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
        for r in rows:
            if r["repeat"] == rep:
                a = acc[r["rule"]]
                a[0] += r["wall"]
                a[1] += r["cpu"]
                a[2] += 1
        for rule, (w, c, n) in acc.items():
            per_rule[rule].append((w, c, n))
    print(
        f"\nmedian of {args.repeats}: wall {statistics.median(t[0] for t in totals):.1f} s, "
        f"CPU {statistics.median(t[1] for t in totals):.1f} s   ({args.configfile}, --cores {args.cores})"
    )
    print(f"{'rule':30s} {'jobs':>4s} {'wall-s (sum)':>12s} {'CPU-s (sum)':>12s}")
    for rule, vals in sorted(per_rule.items(), key=lambda kv: -statistics.median(v[1] for v in kv[1])):
        print(
            f"{rule:30s} {vals[0][2]:4d} {statistics.median(v[0] for v in vals):12.1f} "
            f"{statistics.median(v[1] for v in vals):12.1f}"
        )
    jobs_cpu = statistics.median(sum(r["cpu"] for r in rows if r["repeat"] == k) for k in range(args.repeats))
    print(f"{'all jobs':30s} {'':4s} {'':12s} {jobs_cpu:12.1f}   (the rest of the CPU time is Snakemake itself)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["repeat", "rule", "wildcards", "wall", "cpu"])
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
