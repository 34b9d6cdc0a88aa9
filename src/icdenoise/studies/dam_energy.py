"""Figure 5 (dam_energy): one attention step = one gradient step on the dense-associative-memory energy (§4, Eq. 15-16).

A circle (d = 1) of radius R in n = 2, L context points, a few noisy queries; the energy on a grid and the
Eq.-16 trajectories of the queries (one step with γ = α is the attention layer; many steps drift).
"""

from __future__ import annotations

import logging
import math

import numpy as np

log = logging.getLogger("icdenoise")


def circle_context(L: int, R: float, seed: int) -> np.ndarray:
    """L points uniform on the radius-R circle in R² (numpy PCG64): (L, 2)."""
    rng = np.random.default_rng(int(seed))
    theta = rng.uniform(0.0, 2 * math.pi, size=L)
    return R * np.stack([np.cos(theta), np.sin(theta)], axis=1)


def circle_queries(num: int, R: float, sigma_z2: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``num`` targets on the circle, evenly spread from a random angle, and their noisy queries: (num, 2) each."""
    rng = np.random.default_rng(int(seed))
    theta = rng.uniform(0.0, 2 * math.pi) + 2 * math.pi * np.arange(num) / num
    targets = R * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    queries = targets + math.sqrt(sigma_z2) * rng.standard_normal(targets.shape)
    return targets, queries


def dam_energy_tables(
    *,
    R: float,
    L: int,
    sigma_z2: float,
    alpha: float,
    beta: float,
    gamma_frac: float,
    num_queries: int,
    num_steps: int,
    extent: float,
    grid: int,
    seed: int,
) -> dict:
    """Figure 5 (n = 2, d = 1): the DAM energy on a grid, the context, and Eq.-16 trajectories of noisy queries.

    Returns {"trajectories", "energy", "context"} DataFrames:
    trajectories: query_id, step, x, y, energy, target_x, target_y, dist_to_target, alpha, beta, gamma;
    energy: x, y, energy (``grid`` × ``grid`` points on [−extent, extent]²); context: token, x, y.
    """
    import pandas as pd
    import torch

    from ..energy import dam_energy, dam_iterate
    from ..tasks import derive_seed

    context = circle_context(L, R, derive_seed(seed, "context"))
    targets, queries = circle_queries(num_queries, R, sigma_z2, derive_seed(seed, "queries"))
    X = torch.as_tensor(context, dtype=torch.float64).unsqueeze(0)  # (1, L, 2)
    gamma = float(gamma_frac) * float(alpha)
    s0 = torch.as_tensor(queries, dtype=torch.float64).unsqueeze(0)  # (1, m, 2): all queries share the context
    traj = dam_iterate(s0, X, alpha, beta, gamma, num_steps, return_trajectory=True)[:, 0]  # (K+1, m, 2)
    E_traj = dam_energy(traj.transpose(0, 1).reshape(1, -1, 2), X, alpha, beta).reshape(num_queries, -1).T

    K1, m = traj.shape[0], traj.shape[1]
    pts = traj.numpy()
    tgt = np.broadcast_to(targets, pts.shape)
    traj_df = pd.DataFrame(
        {
            "query_id": np.tile(np.arange(m), K1),
            "step": np.repeat(np.arange(K1), m),
            "x": pts[..., 0].ravel(),
            "y": pts[..., 1].ravel(),
            "energy": E_traj.numpy().ravel(),
            "target_x": tgt[..., 0].ravel(),
            "target_y": tgt[..., 1].ravel(),
            "dist_to_target": np.linalg.norm(pts - tgt, axis=-1).ravel(),
        }
    )
    traj_df["alpha"], traj_df["beta"], traj_df["gamma"] = float(alpha), float(beta), gamma

    axis = np.linspace(-extent, extent, grid)
    gx, gy = np.meshgrid(axis, axis, indexing="xy")
    states = torch.as_tensor(np.stack([gx.ravel(), gy.ravel()], axis=1), dtype=torch.float64).unsqueeze(0)
    energy = dam_energy(states, X, alpha, beta)[0].numpy()
    energy_df = pd.DataFrame({"x": gx.ravel(), "y": gy.ravel(), "energy": energy})
    context_df = pd.DataFrame({"token": np.arange(L), "x": context[:, 0], "y": context[:, 1]})
    return {
        "trajectories": traj_df.astype(
            {"query_id": "int64", "step": "int64", **{c: "float64" for c in traj_df.columns[2:]}}
        ),
        "energy": energy_df.astype("float64"),
        "context": context_df.astype({"token": "int64", "x": "float64", "y": "float64"}),
    }


def run_dam_energy(out_trajectories: str, out_energy: str, out_context: str, *, settings: dict, seed: int) -> None:
    """Rule dam_energy_data: write the three Figure 5 tables."""
    from ..io import write_table

    s = dict(settings)
    tables = dam_energy_tables(
        R=s["R"],
        L=s["L"],
        sigma_z2=s["sigma_z2"],
        alpha=s["alpha"],
        beta=s["beta"],
        gamma_frac=s["gamma_frac"],
        num_queries=s["num_queries"],
        num_steps=max(s["panels"]),
        extent=s["extent"],
        grid=s["grid"],
        seed=seed,
    )
    write_table(tables["trajectories"], out_trajectories)
    write_table(tables["energy"], out_energy)
    write_table(tables["context"], out_context)
    tr = tables["trajectories"]
    for step in sorted({0, 1, max(s["panels"])}):
        d = tr[tr["step"] == step]["dist_to_target"].to_numpy()
        log.info("Figure 5: step %d, distance to target per query %s", step, np.round(d, 4).tolist())
