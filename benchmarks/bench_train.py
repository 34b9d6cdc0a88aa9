"""Time one training epoch (train steps + exact train/test evaluation) at paper scale.

    python benchmarks/bench_train.py [--threads 1] [--repeats 7] [--epochs 20] [--device cpu]

Paper scale: n = 16, L = 500, 800 train + 200 test prompts, batch 80. Prints, per model, the
median over repeats of the per-epoch time, split into the training part and the evaluation
part, in wall-clock and in this process's CPU time (the latter is robust to other processes
on a shared machine; on a GPU only wall-clock is meaningful).
Targets (issue 2): softmax <= 15 ms, linear <= 3 ms per epoch on one CPU thread.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from icdenoise.tasks import sample_prompts
from icdenoise.train import Adam, TrainConfig, _Data, batch_grads, per_prompt_mse, resolve_device, train


def _clock(device):
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter(), time.process_time()


def parts(model: str, batch, device, epochs: int):
    """Median per-epoch (wall, cpu) ms of the training steps and of the evaluation, measured apart."""
    tr = _Data(batch.subset(slice(0, 800)), model, device, 80)
    te = _Data(batch.subset(slice(800, 1000)), model, device)
    W = (torch.rand(2, 16, 16) * 0.5 - 0.25).to(device)
    G = torch.empty_like(W)
    opt = Adam(W, lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    step_t, eval_t = [], []
    for _ in range(epochs):
        w0, c0 = _clock(device)
        perm = torch.randperm(800, generator=gen).to(device)
        for s in range(0, 800, 80):
            batch_grads(model, tr, perm[s : s + 80], W, G)
            opt.step(G)
        w1, c1 = _clock(device)
        with torch.no_grad():
            float(per_prompt_mse(model, tr, W[0], W[1]).mean())
            float(per_prompt_mse(model, te, W[0], W[1]).mean())
        w2, c2 = _clock(device)
        step_t.append(((w1 - w0) * 1e3, (c1 - c0) * 1e3))
        eval_t.append(((w2 - w1) * 1e3, (c2 - c1) * 1e3))
    med = lambda xs, i: statistics.median(x[i] for x in xs)  # noqa: E731
    return med(step_t, 0), med(step_t, 1), med(eval_t, 0), med(eval_t, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    batch = sample_prompts("sphere", 1000, 0, n=16, L=500, d=8, R=1.0, sigma_z2=0.1)
    print(f"device={device} threads={args.threads} n=16 L=500 prompts=800+200 batch=80")
    for model in ("linear", "softmax"):
        cfg = TrainConfig(model=model, epochs=args.epochs, device=str(device), progress=False)
        train(batch.subset(slice(0, 800)), batch.subset(slice(800, 1000)), cfg)  # warm-up
        walls, cpus = [], []
        for _ in range(args.repeats):
            c0 = time.process_time()
            res = train(batch.subset(slice(0, 800)), batch.subset(slice(800, 1000)), cfg)
            walls.append(res.seconds / args.epochs * 1e3)
            cpus.append((time.process_time() - c0) / args.epochs * 1e3)
        sw, sc, ew, ec = parts(model, batch, device, args.epochs)
        print(
            f"{model:8s} full epoch: median wall {statistics.median(walls):6.2f} ms, "
            f"cpu {statistics.median(cpus):6.2f} ms"
            f" | train steps wall {sw:6.2f} cpu {sc:6.2f} | exact eval (1000 prompts) wall {ew:6.2f} cpu {ec:6.2f}"
        )


if __name__ == "__main__":
    main()
