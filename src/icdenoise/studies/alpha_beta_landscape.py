"""Figure 6 (alpha_beta_landscape): α–β landscapes of scaled-identity softmax attention and the points marked on them.

One vectorised pass per case (:func:`icdenoise.landscape.alpha_beta_landscape`, no loop over grid points)
on fresh prompts. Marked points: the heuristic weights of the case (:func:`studies.common.heuristic_points`),
each seed's trained softmax weights as (|α|, |β|) (a seed may converge to the mirrored (−α, −β); for gmm that
mirror is not an exact symmetry, so the flip is recorded), their seed mean, the grid minimum and the valley
minimum (best grid β with α optimised exactly). The MSE of every marked point is evaluated exactly on the same
prompts (the MSE is a quadratic in α for each β).
"""

from __future__ import annotations

import logging

import numpy as np

from .common import heuristic_points, trained_softmax_weights

log = logging.getLogger("icdenoise")

POINT_KINDS = ("heuristic", "trained", "trained_mean", "grid_min", "valley_min")


def marked_points(case: str, params: dict, trained: list[dict], subspace_beta: float, landscape) -> list[dict]:
    """Points to mark on the landscape: [{"kind", "point", "seed", "alpha", "beta", "flipped", "description"}]."""
    pts = [
        dict(
            kind="heuristic",
            point=h["point"],
            seed=-1,
            alpha=h["alpha"],
            beta=h["beta"],
            flipped=False,
            description=h["description"],
        )
        for h in heuristic_points(case, params, subspace_beta)
    ]
    for t in trained:
        pts.append(
            dict(
                kind="trained",
                point="trained",
                seed=int(t["seed"]),
                alpha=abs(t["alpha"]),
                beta=abs(t["beta"]),
                flipped=bool(t["alpha"] < 0 or t["beta"] < 0),
                description="trained softmax weights of one seed, (|alpha|, |beta|)",
            )
        )
    if trained:
        pts.append(
            dict(
                kind="trained_mean",
                point="trained_mean",
                seed=-1,
                alpha=float(np.mean([abs(t["alpha"]) for t in trained])),
                beta=float(np.mean([abs(t["beta"]) for t in trained])),
                flipped=False,
                description=f"mean over {len(trained)} seeds of |alpha|, |beta|",
            )
        )
    g, v = landscape.grid_min, landscape.valley_min
    pts.append(
        dict(
            kind="grid_min",
            point="grid_min",
            seed=-1,
            alpha=g["alpha"],
            beta=g["beta"],
            flipped=False,
            description="minimum over the grid points",
        )
    )
    pts.append(
        dict(
            kind="valley_min",
            point="valley_min",
            seed=-1,
            alpha=v["alpha"],
            beta=v["beta"],
            flipped=False,
            description="best grid beta with alpha optimised exactly",
        )
    )
    return pts


def landscape_tables(
    case: str, batch, alphas, betas, params: dict, trained: list[dict], subspace_beta: float, chunk_prompts: int = 16
):
    """(grid, points) DataFrames of one case.

    grid: case, alpha, beta, mse (one row per grid point, β-major). points: case, kind, point, seed, alpha, beta,
    mse (exact, same prompts), flipped, inside_grid, description.
    """
    import pandas as pd

    from ..landscape import alpha_beta_landscape, softmax_readout_moments

    ls = alpha_beta_landscape(batch.X, batch.x_query, batch.x_target, alphas, betas, chunk_prompts=chunk_prompts)
    bb, aa = np.meshgrid(ls.betas, ls.alphas, indexing="ij")  # rows β, columns α like ls.mse
    grid = pd.DataFrame({"case": case, "alpha": aa.ravel(), "beta": bb.ravel(), "mse": ls.mse.ravel()})
    pts = marked_points(case, params, trained, subspace_beta, ls)
    _, vv, vx, xx = softmax_readout_moments(
        batch.X, batch.x_query, batch.x_target, [p["beta"] for p in pts], chunk_prompts=chunk_prompts
    )
    n = batch.X.shape[-1]
    a_lo, a_hi, b_lo, b_hi = ls.alphas.min(), ls.alphas.max(), ls.betas.min(), ls.betas.max()
    for i, p in enumerate(pts):
        a = p["alpha"]
        p["mse"] = float((a * a * vv[i] - 2 * a * vx[i] + xx) / n)
        p["inside_grid"] = bool(a_lo <= a <= a_hi and b_lo <= p["beta"] <= b_hi)
    points = pd.DataFrame([dict(case=case, **p) for p in pts])
    points = points[["case", "kind", "point", "seed", "alpha", "beta", "mse", "flipped", "inside_grid", "description"]]
    grid = grid.astype({"case": "string", "alpha": "float64", "beta": "float64", "mse": "float64"})
    points = points.astype(
        {
            "case": "string",
            "kind": "string",
            "point": "string",
            "seed": "int64",
            "alpha": "float64",
            "beta": "float64",
            "mse": "float64",
            "flipped": "bool",
            "inside_grid": "bool",
            "description": "string",
        }
    )
    return grid, points


def run_alpha_beta_landscape(
    out_grid: str,
    out_points: str,
    *,
    case: str,
    case_params: dict,
    run_paths,
    n: int,
    L: int,
    prompts: int,
    alpha_range,
    beta_range,
    grid_size: int,
    subspace_beta: float,
    rng_seed: int,
    threads: int = 1,
) -> None:
    """Rule alpha_beta_landscape: the α–β grid and marked points of one case on ``prompts`` fresh prompts."""
    import torch

    from ..io import write_table
    from ..tasks import sample_prompts

    torch.set_num_threads(max(1, int(threads)))
    batch = sample_prompts(case, prompts, rng_seed, n=n, L=L, **case_params)
    alphas = np.linspace(float(alpha_range[0]), float(alpha_range[1]), int(grid_size))
    betas = np.linspace(float(beta_range[0]), float(beta_range[1]), int(grid_size))
    trained = trained_softmax_weights(run_paths, case)
    grid, points = landscape_tables(case, batch, alphas, betas, case_params, trained, subspace_beta)
    write_table(grid, out_grid)
    write_table(points, out_points)
    log.info(
        "case %s: %d x %d grid on %d prompts (n=%d, L=%d); marked points:\n%s",
        case,
        grid_size,
        grid_size,
        prompts,
        n,
        L,
        points.drop(columns="description").to_string(index=False),
    )
    outside = points[~points["inside_grid"]]
    if len(outside):
        log.warning(
            "case %s: points outside the grid (widen alpha_beta_landscape.ranges.%s): %s",
            case,
            case,
            outside[["kind", "seed", "alpha", "beta"]].to_dict("records"),
        )


def gather_alpha_beta_landscape(grid_paths, point_paths, out_grid: str, out_points: str) -> None:
    """Rule gather_alpha_beta_landscape: the per-case grids and marked points of all cases."""
    from ..io import concat_tables

    concat_tables(list(grid_paths), out_grid)
    concat_tables(list(point_paths), out_points)
