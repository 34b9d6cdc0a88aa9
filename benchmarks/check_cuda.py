"""Check the CUDA path of the trainer against the CPU path, and time it (run on a GPU machine).

    PYTHONPATH=src python benchmarks/check_cuda.py [--epochs 20]

For each case and model at paper scale (n = 16, L = 500, 800 + 200 prompts, batch 80) it trains
from the same seed on the CPU and on CUDA and prints the largest difference of the per-epoch
curves and final weights (float32 rounding only is expected), then the median per-epoch time
of a full-length run on CUDA. Exits non-zero if CUDA is absent or the paths disagree.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import numpy as np
import torch

from icdenoise.tasks import sample_prompts
from icdenoise.train import TrainConfig, train

CASES = {
    "subspace": dict(d=8, sigma0_2=2.0, sigma_z2=1.0),
    "sphere": dict(d=8, R=1.0, sigma_z2=0.1),
    "gmm": dict(p=8, R=1.0, sigma0_2=0.02, sigma_z2=0.1),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--full-epochs", type=int, default=200)
    ap.add_argument("--rtol", type=float, default=1e-3)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("CUDA is not available here", file=sys.stderr)
        sys.exit(2)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}")
    worst = 0.0
    for case, params in CASES.items():
        batch = sample_prompts(case, 1000, 0, n=16, L=500, **params)
        tr, te = batch.subset(slice(0, 800)), batch.subset(slice(800, 1000))
        for model in ("linear", "softmax"):
            res = {}
            for dev in ("cpu", "cuda"):
                res[dev] = train(
                    tr, te, TrainConfig(model=model, epochs=args.epochs, seed=1, device=dev, progress=False)
                )
            rel = max(
                float(np.max(np.abs(res["cpu"].test_mse - res["cuda"].test_mse) / res["cpu"].test_mse)),
                float(np.max(np.abs(res["cpu"].W_KQ - res["cuda"].W_KQ)) / np.max(np.abs(res["cpu"].W_KQ))),
                float(np.max(np.abs(res["cpu"].W_PV - res["cuda"].W_PV)) / np.max(np.abs(res["cpu"].W_PV))),
            )
            worst = max(worst, rel)
            full = [
                train(tr, te, TrainConfig(model=model, epochs=args.full_epochs, seed=s, device="cuda", progress=False))
                for s in range(3)
            ]
            per_epoch = statistics.median(r.seconds / args.full_epochs * 1e3 for r in full)
            print(
                f"{case:8s} {model:7s} cpu-vs-cuda max rel diff {rel:.2e} | cuda {per_epoch:.2f} ms/epoch "
                f"(median of 3 runs of {args.full_epochs} epochs) | final test MSE {full[0].test_mse[-1]:.5f} "
                f"cpu {res['cpu'].seconds / args.epochs * 1e3:.2f} ms/epoch"
            )
    ok = worst < args.rtol
    print(f"largest relative CPU/CUDA difference {worst:.2e}: {'OK' if ok else 'MISMATCH'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
