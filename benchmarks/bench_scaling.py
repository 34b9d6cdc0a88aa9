"""Scaling of the ensemble trainer: time per epoch against R (ensemble size), L, N (training prompts) and n.

    python benchmarks/bench_scaling.py [--epochs 4] [--repeats 3] [--quick] [--out benchmarks/out/scaling]
                                       [--kernel auto] [--threads 1]

Around the paper's point (n = 16, L = 500, N = 800 training + 200 test prompts, batch 80, sphere case,
one thread) one variable at a time is swept: R in 1..36, L in 125..4000, N in 200..6400, n in 8..64
(d = n/2), for both models. Each point runs in a fresh subprocess (so its peak memory is its own): it
samples every member's own dataset, trains the ensemble for 1 and for 1 + E epochs and reports the
marginal per-epoch time (wall and process CPU, medians over repeats; the one-off setup, copying prompts
into the kernel's layout, is excluded), the time per member (/ R) and the process's peak RSS.

Writes ``OUT.csv`` and ``OUT.png`` (log-log panels) and prints the log-log slopes per model and
variable (per-member time against R; epoch time against L, N and n; for L also from L = 500 up, where the
softmax kernel tiles the tokens). ``--quick`` keeps fewer points, for a short check; the full sweep takes several
times longer.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

POINTS = {
    "R": [1, 2, 6, 12, 36],
    "L": [125, 250, 500, 1000, 2000, 4000],
    "N": [200, 400, 800, 1600, 3200, 6400],
    "n": [8, 16, 32, 64],
}
QUICK = {"R": [1, 6, 36], "L": [125, 500, 2000], "N": [200, 800, 3200], "n": [8, 16, 64]}
BASE = dict(R=1, L=500, N=800, n=16)
#: The L slope is also reported from this L up (issue 25: at most 1.1 between L = 500 and 4000).
LONG_L = 500


def child(spec: dict) -> dict:
    """Run in the subprocess: time both models at one point."""
    import resource

    import torch

    from icdenoise.tasks import sample_prompts
    from icdenoise.train import Member, TrainConfig, train_ensemble

    torch.set_num_threads(spec["threads"])
    R, L, N, n = spec["R"], spec["L"], spec["N"], spec["n"]
    sets = []
    for r in range(R):
        b = sample_prompts("sphere", N + 200, 1000 + r, n=n, L=L, d=max(1, n // 2), R=1.0, sigma_z2=0.1)
        sets.append((b.subset(slice(0, N)), b.subset(slice(N, None))))
        del b
    out = {}
    for model in ("linear", "softmax"):

        def run(E, model=model):
            members = [
                Member(tr, te, TrainConfig(model=model, epochs=E, batch_size=80, seed=r, progress=False))
                for r, (tr, te) in enumerate(sets)
            ]
            w0, c0 = time.perf_counter(), time.process_time()
            res = train_ensemble(members, kernel=spec["kernel"])
            return time.perf_counter() - w0, time.process_time() - c0, res[0].kernel

        run(1)  # warm-up: JIT cache load, allocator
        walls, cpus = [], []
        for _ in range(spec["repeats"]):
            w1, c1, _ = run(1)
            w2, c2, kind = run(1 + spec["epochs"])
            walls.append((w2 - w1) / spec["epochs"])
            cpus.append((c2 - c1) / spec["epochs"])
        out[model] = dict(wall_ms=statistics.median(walls) * 1e3, cpu_ms=statistics.median(cpus) * 1e3, kernel=kind)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def slope(xs, ys) -> float:
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum((a - mx) ** 2 for a in lx)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(child(json.loads(sys.argv[2]))))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--kernel", default="auto")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=list(POINTS), nargs="*", help="sweep only these variables")
    ap.add_argument("--out", default="benchmarks/out/scaling")
    ap.add_argument("--replot", action="store_true", help="only redraw OUT.png (and the slopes) from OUT.csv")
    args = ap.parse_args()
    points = QUICK if args.quick else POINTS
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.replot:
        with open(out.with_suffix(".csv")) as f:
            rows = [
                {k: (v if k in ("variable", "model", "kernel") else float(v)) for k, v in r.items()}
                for r in csv.DictReader(f)
            ]
        report(rows, list(dict.fromkeys(r["variable"] for r in rows)), out)
        return
    rows = []
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(Path(__file__).resolve().parents[1] / "src"), os.environ.get("PYTHONPATH")])
        ),
    }
    for var in args.only or list(points):
        for value in points[var]:
            spec = {
                **BASE,
                var: value,
                "epochs": args.epochs,
                "repeats": args.repeats,
                "threads": args.threads,
                "kernel": args.kernel,
            }
            t0 = time.perf_counter()
            res = subprocess.run(
                [sys.executable, __file__, "--child", json.dumps(spec)],
                check=True,
                env=env,
                capture_output=True,
                text=True,
            )
            r = json.loads(res.stdout.strip().splitlines()[-1])
            for model in ("linear", "softmax"):
                m = r[model]
                rows.append(
                    dict(
                        variable=var,
                        value=value,
                        model=model,
                        R=spec["R"],
                        L=spec["L"],
                        N=spec["N"],
                        n=spec["n"],
                        kernel=m["kernel"],
                        epoch_wall_ms=m["wall_ms"],
                        epoch_cpu_ms=m["cpu_ms"],
                        member_wall_ms=m["wall_ms"] / spec["R"],
                        member_cpu_ms=m["cpu_ms"] / spec["R"],
                        peak_rss_mb=r["peak_rss_mb"],
                    )
                )
                print(
                    f"{var}={value:<5} {model:8s} epoch wall {m['wall_ms']:8.2f} ms cpu {m['cpu_ms']:8.2f} ms | "
                    f"per member cpu {m['cpu_ms'] / spec['R']:7.2f} ms | peak RSS {r['peak_rss_mb']:7.0f} MB "
                    f"({time.perf_counter() - t0:.0f} s)",
                    flush=True,
                )
    with open(out.with_suffix(".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    report(rows, args.only or list(points), out)


def report(rows, variables, out):
    """Print the log-log slopes and draw the PNG."""
    print("log-log slopes (process CPU time; R: per-member time, others: epoch time):")
    slopes = {}
    for var in variables:
        for model in ("linear", "softmax"):
            sel = [r for r in rows if r["variable"] == var and r["model"] == model]
            key = "member_cpu_ms" if var == "R" else "epoch_cpu_ms"
            slopes[var, model] = slope([r["value"] for r in sel], [r[key] for r in sel])
            line = f"  {var}: {model:8s} {slopes[var, model]:+.2f}"
            long = [r for r in sel if r["value"] >= LONG_L] if var == "L" else []
            if len(long) >= 2:  # where the context no longer fits L1: the tiled softmax path (kernels_numba)
                line += f"  (L >= {LONG_L}: {slope([r['value'] for r in long], [r[key] for r in long]):+.2f})"
            print(line)
    plot(rows, slopes, out.with_suffix(".png"))
    print(f"wrote {out.with_suffix('.csv')} and {out.with_suffix('.png')}")


def plot(rows, slopes, path):
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variables = list(dict.fromkeys(r["variable"] for r in rows))
    fig, axes = plt.subplots(1, len(variables), figsize=(3.6 * len(variables), 3.4), squeeze=False)
    for ax, var in zip(axes[0], variables, strict=True):
        key = "member_cpu_ms" if var == "R" else "epoch_cpu_ms"
        for model, color in (("linear", "tab:blue"), ("softmax", "tab:red")):
            sel = [r for r in rows if r["variable"] == var and r["model"] == model]
            ax.loglog(
                [r["value"] for r in sel],
                [r[key] for r in sel],
                "o-",
                color=color,
                label=f"{model} (slope {slopes[var, model]:+.2f})",
            )
        ax.set_xlabel(var)
        ax.set_ylabel("CPU ms per epoch" + (" per member" if var == "R" else ""))
        ax.set_title(f"sweep over {var}", fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_xticks(sorted({r["value"] for r in rows if r["variable"] == var}))
    fig.suptitle("icdenoise training epoch (n=16, L=500, N=800+200, batch 80 unless swept; one thread)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
