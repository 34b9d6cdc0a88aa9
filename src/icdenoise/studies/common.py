"""What several studies share: per-prompt model MSEs, a run's initial weights, and the heuristic and trained
weights that Figure 6 and the Hopfield iteration study mark and start from (training goes through the run layer,
``icdenoise.runs``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from ..io import load_run

log = logging.getLogger("icdenoise")


def mean_se(per_prompt: np.ndarray) -> tuple[float, float]:
    v = np.asarray(per_prompt, dtype=np.float64)
    se = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else float("nan")
    return float(v.mean()), se


def initial_weights(n: int, train_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The initial (W_KQ, W_PV) of a run trained by icdenoise.train.train with ``seed=train_seed``.

    train() draws them from ``torch.Generator().manual_seed(seed)`` before anything else, so this
    reproduces them exactly: the "untrained" model of Fig. 4b is the trained model's own start.
    """
    import torch

    from ..models import init_weights

    gen = torch.Generator(device="cpu").manual_seed(int(train_seed))
    W_KQ, W_PV = init_weights(n, gen)
    return W_KQ.numpy(), W_PV.numpy()


def model_mse(model: str, X, x_query, x_target, W_KQ, W_PV, chunk: int = 250) -> np.ndarray:
    """Per-prompt MSE per component of attention ``model`` with weights (W_KQ, W_PV), float32 like training."""
    import torch

    from ..models import attention

    Wk = torch.as_tensor(np.asarray(W_KQ, dtype=np.float32))
    Wv = torch.as_tensor(np.asarray(W_PV, dtype=np.float32))
    out = []
    with torch.no_grad():
        for s in range(0, X.shape[0], chunk):
            Xc = torch.from_numpy(np.ascontiguousarray(X[s : s + chunk], dtype=np.float32))
            qc = torch.from_numpy(np.ascontiguousarray(x_query[s : s + chunk], dtype=np.float32))
            pred = attention(model, Xc, qc, Wk, Wv).double().numpy()
            diff = pred - np.asarray(x_target[s : s + chunk], dtype=np.float64)
            out.append(np.einsum("bi,bi->b", diff, diff) / diff.shape[-1])
    return np.concatenate(out)


def heuristic_points(case: str, params: dict, subspace_beta: float) -> list[dict]:
    """The heuristic scaled-identity weights of a case: [{"point", "alpha", "beta", "description"}]."""
    sz = float(params["sigma_z2"])
    if case == "subspace":
        s0 = float(params["sigma0_2"])
        b = float(subspace_beta)
        if not b > 0:
            raise ValueError(f"subspace_beta must be > 0, got {subspace_beta!r}")
        return [
            dict(
                point="heuristic",
                alpha=1.0 / (b * (s0 + sz)),
                beta=b,
                description="small beta: alpha*beta = 1/(s0^2+sZ^2)",
            )
        ]
    if case == "sphere":
        return [dict(point="heuristic", alpha=1.0, beta=1.0 / sz, description="alpha = 1, beta = 1/sZ^2")]
    if case == "gmm":
        s0 = float(params["sigma0_2"])
        return [
            dict(point="heuristic", alpha=1.0, beta=1.0 / sz, description="alpha = 1, beta = 1/sZ^2 (Eq. 8)"),
            dict(
                point="heuristic_prop4",
                alpha=1.0,
                beta=1.0 / (s0 + sz),
                description="alpha = 1, beta = 1/(s0^2+sZ^2) (Prop. 4)",
            ),
        ]
    raise ValueError(f"unknown case {case!r}")


def trained_softmax_weights(run_paths: Sequence[str], case: str | None = None) -> list[dict]:
    """Final softmax weights of training runs: [{"seed", "alpha", "beta", "W_KQ", "W_PV"}], sorted by seed.

    ``alpha``/``beta`` are the signed mean diagonals. Runs of another model (or case, if given) are skipped.
    """
    out = []
    for path in run_paths:
        arrays, meta = load_run(path)
        if meta.get("model") != "softmax" or (case is not None and meta.get("case") != case):
            continue
        W_KQ = np.asarray(arrays["W_KQ"], dtype=np.float64)
        W_PV = np.asarray(arrays["W_PV"], dtype=np.float64)
        out.append(
            dict(
                seed=int(meta["seed"]),
                alpha=float(np.mean(np.diag(W_PV))),
                beta=float(np.mean(np.diag(W_KQ))),
                W_KQ=W_KQ,
                W_PV=W_PV,
            )
        )
    return sorted(out, key=lambda r: r["seed"])
