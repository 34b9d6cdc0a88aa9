"""Time one training epoch of the K-layer depth models against the one-layer softmax epoch, at paper scale.

    python benchmarks/bench_depth.py [--layers 1 2 3 4] [--epochs 10] [--repeats 3] [--device cpu] [--threads 1]

Paper scale: n = 16, L = 500, 800 train + 200 test prompts, batch 80, an ensemble of 3 seeds (as the depth study
trains them). Per model: the median over repeats of the marginal per-epoch time of ``train_ensemble`` ((time of
5 + E epochs − time of 5 epochs) / E, so the setup is not counted), wall-clock and this process's CPU time (robust
to other processes on a shared machine), with the exact evaluation only at the end (``eval_every`` = epochs, as
the study trains). The issue's target: a K-layer softmax epoch at most 1.3 x K x the one-layer (fused) epoch; the
last column prints the measured CPU ratio / K. Each depth model runs on the kernels of ``--depth-kernel`` (default:
the fused kernel where it has one, and the torch path).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from icdenoise.tasks import sample_prompts
from icdenoise.train import Member, TrainConfig, train_ensemble


def epoch_ms(tr, te, model, options, kernel, device, epochs, repeats, seeds=3):
    """Median marginal (wall, cpu) ms per epoch of an ensemble of ``seeds`` members."""

    def run(E):
        members = [
            Member(
                tr,
                te,
                TrainConfig(
                    model=model, epochs=E, seed=s, device=device, progress=False, eval_every=E, model_options=options
                ),
            )  # fmt: skip
            for s in range(seeds)
        ]
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        w, c = time.perf_counter(), time.process_time()
        train_ensemble(members, kernel=kernel)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - w, time.process_time() - c

    run(2)  # warm-up (JIT cache load, allocator)
    walls, cpus = [], []
    for _ in range(repeats):
        w0, c0 = run(5)
        w1, c1 = run(5 + epochs)
        walls.append((w1 - w0) / epochs * 1e3)
        cpus.append((c1 - c0) / epochs * 1e3)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--kernel", default="auto", help="kernel of the one-layer reference (fused on the CPU)")
    ap.add_argument(
        "--depth-kernel",
        nargs="+",
        default=["auto", "torch"],
        help="kernels of the depth models: auto (fused softmax on the CPU; linear has only torch), torch",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    b = sample_prompts("gmm", 1000, 0, n=16, L=500, p=8, R=1.0, sigma0_2=0.02, sigma_z2=0.1)
    tr, te = b.subset(slice(0, 800)), b.subset(slice(800, None))
    if args.device.startswith("cuda"):
        tr, te = (x.to(args.device) if hasattr(x, "to") else x for x in (tr, te))
    ref_w, ref_c = epoch_ms(tr, te, "softmax", {}, args.kernel, args.device, args.epochs, args.repeats)
    print(f"ensemble of 3 seeds, gmm, n=16 L=500 800+200 prompts, batch 80, {args.threads} thread(s), {args.device}")
    print(f"{'model':<34} {'wall ms/epoch':>14} {'cpu ms/epoch':>13} {'cpu / (K x one-layer)':>22}")
    print(f"{'softmax, one layer (' + args.kernel + ')':<34} {ref_w:14.1f} {ref_c:13.1f} {'1.00':>22}")
    from icdenoise import kernels, models

    for family in ("softmax", "linear"):
        for K in args.layers:
            for tied in (True, False) if K > 1 else (True,):
                opts = {"layers": K, "tied": tied}
                model = models.get(f"depth_{family}", opts)
                for kern in dict.fromkeys(kernels.kernel_choice(k, model, args.device[:4]) for k in args.depth_kernel):
                    w, c = epoch_ms(tr, te, f"depth_{family}", opts, kern, args.device, args.epochs, args.repeats)
                    name = f"depth_{family} K={K} {'tied' if tied else 'untied'} ({kern})"
                    print(f"{name:<34} {w:14.1f} {c:13.1f} {c / (K * ref_c):22.2f}")


if __name__ == "__main__":
    main()
