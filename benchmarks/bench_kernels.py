"""Time the fused softmax kernels alone at paper scale, and A/B copies of the kernel module, interleaved.

    python benchmarks/bench_kernels.py [--repeats 30] [--L 500] [MODULE.py ...]

Without arguments it times ``icdenoise.kernels_numba``; with paths to copies of that file (edited variants)
it times each of them, alternating in one process, so the machine's drift hits all alike, and checks that
every variant gives the first one's weights and per-prompt MSEs bit for bit. Per module it prints the
``min`` and median over repeats (ms) of:

* ``epoch``: one training epoch of ``softmax_epoch`` (800 prompts in a random order, batches of 80, Adam);
* ``eval``: ``softmax_mse`` over all 1000 prompts (the exact per-epoch evaluation), streaming from memory;
* ``eval in cache``: the same number of prompts drawn from 20 prompts that stay in L2 (compute alone).

n = 16, float32, one thread; random contexts and O(1) weights (the time does not depend on the values
unless the exp underflows: with scores spread over more than ~40 the products become subnormal and slow).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def load(path: str | None):
    if path is None:
        return importlib.import_module("icdenoise.kernels_numba")
    p = Path(path).resolve()
    sys.path.insert(0, str(p.parent))  # imported by name, so numba can cache it beside the file
    return importlib.import_module(p.stem)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("modules", nargs="*", help="copies of kernels_numba.py to compare (default: the installed one)")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--L", type=int, default=500)
    args = ap.parse_args()
    mods = [load(m) for m in args.modules] or [load(None)]
    names = args.modules or ["icdenoise.kernels_numba"]

    rng = np.random.default_rng(0)
    n, L, P, B = 16, args.L, 1000, 80
    XT = (rng.standard_normal((1, P, n, L)) / 2).astype(np.float32)  # (R, P, n, L)
    q = rng.standard_normal((1, P, n)).astype(np.float32)
    t = rng.standard_normal((1, P, n)).astype(np.float32)
    W0 = (rng.standard_normal((1, 2, n, n)) * 0.3).astype(np.float32)
    idx = rng.permutation(800)[None].astype(np.int64)
    S = 800 // B
    steps, bc2 = np.full((S, 1), -1e-3), np.ones(S)
    scales = np.full(S, 2 / (B * n), np.float32)
    hot = np.ascontiguousarray(XT[:, :20])

    def run(m):
        W = W0.copy()
        G = np.zeros_like(W)
        Wf = W.reshape(1, -1)
        losses, mse = np.zeros((S, 1)), np.empty((1, P), np.float32)
        t0 = time.perf_counter()
        m.softmax_epoch(XT[:, :800], q[:, :800], t[:, :800], idx, B, W, G, Wf, np.zeros_like(Wf), np.zeros_like(Wf),
                        G.reshape(1, -1), steps, bc2, 0.9, 0.999, 1e-8, scales, losses)  # fmt: skip
        t1 = time.perf_counter()
        m.softmax_mse(XT, q, t, W, mse, 1)
        t2 = time.perf_counter()
        out = np.empty((1, 20), np.float32)
        for _ in range(P // 20):
            m.softmax_mse(hot, q[:, :20], t[:, :20], W, out, 1)
        t3 = time.perf_counter()
        return np.array([t1 - t0, t2 - t1, t3 - t2]) * 1e3, W, mse

    first = [run(m) for m in mods]  # compiles or loads every variant
    times = {i: [] for i in range(len(mods))}
    for _ in range(args.repeats):
        for i, m in enumerate(mods):
            times[i].append(run(m)[0])
    print(f"n={n} L={L} prompts={P} (train 800, batch {B}) repeats={args.repeats}, ms: min / median")
    for i, name in enumerate(names):
        a = np.array(times[i])
        cols = [f"{lab} {a[:, j].min():6.2f} / {statistics.median(a[:, j]):6.2f}"
                for j, lab in enumerate(("epoch", "eval", "eval in cache"))]  # fmt: skip
        same = np.array_equal(first[i][1], first[0][1]) and np.array_equal(first[i][2], first[0][2])
        print(f"{name}: " + " | ".join(cols) + ("" if i == 0 else f" | bit-identical to the first: {same}"))


if __name__ == "__main__":
    main()
