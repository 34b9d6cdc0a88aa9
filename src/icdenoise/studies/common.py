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


def initial_weights(n: int, train_seed: int, model: str = "linear") -> tuple[np.ndarray, np.ndarray]:
    """The initial (W_KQ, W_PV) of a run of ``model`` trained by icdenoise.train.train with ``seed=train_seed``.

    train() draws them from ``torch.Generator().manual_seed(seed)`` before anything else (the model's
    ``init``; for the paper's models ``init_weights``), so this reproduces them exactly: the "untrained"
    model of Fig. 4b is the trained model's own start.
    """
    import torch

    from ..models import get

    params = get(model).init(n, torch.Generator(device="cpu").manual_seed(int(train_seed)))
    return params["W_KQ"].numpy(), params["W_PV"].numpy()


def model_mse(
    model: str, X, x_query, x_target, W_KQ=None, W_PV=None, chunk: int = 250, params: dict | None = None
) -> np.ndarray:
    """Per-prompt MSE per component of the registered ``model`` (Eq. 11, Eq. 12, ...), float32 like training.

    Its parameters: ``W_KQ``, ``W_PV`` and/or ``params`` by name (e.g. a run file's arrays; names the model
    does not have are ignored); the forward pass is the model's own (icdenoise.models.attention).
    """
    import torch

    from ..models import get

    m = get(model)
    given = {**(params or {}), **{k: v for k, v in (("W_KQ", W_KQ), ("W_PV", W_PV)) if v is not None}}
    names = [p.name for p in m.params]
    p = {k: torch.as_tensor(np.asarray(given[k], dtype=np.float32)) for k in names if k in given}
    out = []
    with torch.no_grad():
        for s in range(0, X.shape[0], chunk):
            Xc = torch.from_numpy(np.ascontiguousarray(X[s : s + chunk], dtype=np.float32))
            qc = torch.from_numpy(np.ascontiguousarray(x_query[s : s + chunk], dtype=np.float32))
            pred = m.predict(Xc, qc, p).double().numpy()
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
