"""Time one training epoch (train steps + exact train/test evaluation) at paper scale, against the memory floor.

    python benchmarks/bench_train.py [--threads 1] [--repeats 7] [--epochs 20] [--device cpu] [--kernel auto]

Paper scale: n = 16, L = 500, 800 train + 200 test prompts, batch 80. Per model it prints the median
over repeats of the per-epoch time of ``train()`` in wall-clock and in this process's CPU time (robust
to other processes on a shared machine; on a GPU only wall-clock means anything). The per-epoch time
is the marginal cost of an epoch: (time of a run of 5 + E epochs − time of a run of 5 epochs) / E, so
the one-off setup (copying the prompts into the kernel's layout) is not counted.

The memory-streaming floor (issue 13) is measured in the same run, interleaved with the epochs: the
time of one plain ``sum`` over the 1000 prompts' contexts (1000 x 500 x 16 float32, 32 MB) times 2.6
(one read of each training prompt forward and one backward, 800 x 2, and one read of every prompt for
the evaluation, 1000). Target: softmax within 2x of the floor, linear <= 3 ms, on one CPU thread.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from icdenoise.tasks import sample_prompts
from icdenoise.train import TrainConfig, resolve_device, train


def _clock(device):
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter(), time.process_time()


def floor_ms(X: torch.Tensor, reps: int = 5) -> float:
    """2.6 x the median time of one torch.sum over the contexts (ms, wall)."""
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        float(X.sum())
        ts.append(time.perf_counter() - t0)
    return 2.6 * statistics.median(ts) * 1e3


def epoch_ms(tr, te, model, device, kernel, epochs, repeats, X):
    """Median marginal (wall, cpu) ms per epoch, and the median floor measured between the runs."""
    base = 5
    cfg = lambda E: TrainConfig(model=model, epochs=E, device=str(device), progress=False)  # noqa: E731
    train(tr, te, cfg(2), kernel=kernel)  # warm-up (JIT cache load, allocator)
    walls, cpus, floors = [], [], []
    for _ in range(repeats):
        floors.append(floor_ms(X))
        w0, c0 = _clock(device)
        train(tr, te, cfg(base), kernel=kernel)
        w1, c1 = _clock(device)
        train(tr, te, cfg(base + epochs), kernel=kernel)
        w2, c2 = _clock(device)
        walls.append(((w2 - w1) - (w1 - w0)) / epochs * 1e3)
        cpus.append(((c2 - c1) - (c1 - c0)) / epochs * 1e3)
    return statistics.median(walls), statistics.median(cpus), statistics.median(floors)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--kernel", default="auto", help="auto (fused softmax on CPU), torch or fused")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    batch = sample_prompts("sphere", 1000, 0, n=16, L=500, d=8, R=1.0, sigma_z2=0.1)
    tr, te = batch.subset(slice(0, 800)), batch.subset(slice(800, 1000))
    X = torch.from_numpy(batch.X).contiguous()
    print(
        f"device={device} threads={args.threads} n=16 L=500 prompts=800+200 batch=80 kernel={args.kernel} "
        f"repeats={args.repeats} epochs={args.epochs}"
    )
    for model in ("linear", "softmax"):
        wall, cpu, floor = epoch_ms(tr, te, model, device, args.kernel, args.epochs, args.repeats, X)
        print(
            f"{model:8s} per epoch: median wall {wall:6.2f} ms, cpu {cpu:6.2f} ms | floor {floor:5.2f} ms "
            f"(2.6 x sum) | ratio wall/floor {wall / floor:4.2f}, cpu/floor {cpu / floor:4.2f}"
        )


if __name__ == "__main__":
    main()
