"""Figure 5 (dam_energy): gradient descent on the DAM energy (Eq. 15-16), a circle in n = 2, a panel per step count."""

from __future__ import annotations

import numpy as np

from ..io import read_table
from . import plt, save_figure

QUERY_COLORS = (
    "tab:red",
    "tab:orange",
    "deepskyblue",
    "tab:brown",
    "tab:pink",
    "tab:cyan",
    "tab:olive",
    "tab:blue",
    "tab:green",
    "tab:gray",
)


def _energy_grid(energy):
    xs = np.unique(energy["x"].to_numpy())
    ys = np.unique(energy["y"].to_numpy())
    E = energy.sort_values(["y", "x"])["energy"].to_numpy().reshape(len(ys), len(xs))
    return xs, ys, E


def _panel(ax, xs, ys, E, levels, context, traj, steps: int):
    cf = ax.contourf(xs, ys, E, levels=levels, cmap="viridis", extend="both")
    ax.contour(xs, ys, E, levels=levels[::2], colors="white", linewidths=0.35, alpha=0.5)
    ax.scatter(
        context["x"],
        context["y"],
        s=14,
        c="black",
        edgecolors="white",
        linewidths=0.5,
        zorder=4,
        label="context tokens",
    )
    for q, sub in traj.groupby("query_id"):
        sub = sub.sort_values("step")
        sub = sub[sub["step"] <= steps]
        c = QUERY_COLORS[int(q) % len(QUERY_COLORS)]
        first, last = sub.iloc[0], sub.iloc[-1]
        ax.plot(sub["x"], sub["y"], "-", color=c, lw=1.3, alpha=0.95, zorder=5, label="trajectory" if q == 0 else None)
        ax.scatter(
            [first["x"]],
            [first["y"]],
            marker="o",
            s=70,
            facecolors="none",
            edgecolors=c,
            linewidths=1.8,
            zorder=8,
            label="query" if q == 0 else None,
        )
        ax.scatter(
            [first["target_x"]],
            [first["target_y"]],
            marker="*",
            s=120,
            c=c,
            edgecolors="black",
            linewidths=0.6,
            zorder=6,
            label="target" if q == 0 else None,
        )
        ax.scatter(
            [last["x"]],
            [last["y"]],
            marker="X",
            s=60,
            c=c,
            edgecolors="white",
            linewidths=0.7,
            zorder=7,
            label="prediction" if q == 0 else None,
        )
    ax.set_aspect("equal")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_xlabel("$s_1$")
    ax.set_ylabel("$s_2$")
    return cf


def plot_dam_energy(
    trajectories, energy, context, out_pdf, out_png, panels=(1, 50), run_name: str | None = None
) -> None:
    """Figure 5 from the tables of rule fig5_data: energy contour, context, queries, targets, trajectories."""
    traj = read_table(
        trajectories,
        ["query_id", "step", "x", "y", "energy", "target_x", "target_y", "dist_to_target", "alpha", "beta", "gamma"],
    )
    energy = read_table(energy, ["x", "y", "energy"])
    context = read_table(context, ["token", "x", "y"])
    xs, ys, E = _energy_grid(energy)
    # colour range: the energy around the circle and the trajectories, not the large corners of the box
    lo = float(np.min(E))
    hi = float(np.quantile(E, 0.97))
    levels = np.linspace(lo, hi, 22)
    alpha, beta, gamma = (float(traj[c].iloc[0]) for c in ("alpha", "beta", "gamma"))
    panels = sorted(int(k) for k in panels)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.1 * len(panels) + 0.9, 4.2), squeeze=False)
    cf = None
    for ax, k in zip(axes[0], panels, strict=True):
        cf = _panel(ax, xs, ys, E, levels, context, traj, k)
        d = traj[traj["step"] == min(k, int(traj["step"].max()))]["dist_to_target"]
        ax.set_title(f"{k} step{'s' if k != 1 else ''}: mean distance to target {d.mean():.3f}")
    cb = fig.colorbar(cf, ax=list(axes[0]), fraction=0.04, pad=0.02)
    cb.set_label(r"energy $E(s)$ (Eq. 15)")
    cb.set_ticks(levels[::3])
    cb.set_ticklabels([f"{v:.2f}" for v in levels[::3]])
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=5, frameon=False, bbox_to_anchor=(0.45, -0.04))
    d0 = traj[traj["step"] == 0]["dist_to_target"].mean()
    fig.suptitle(
        rf"Figure 5: $s \leftarrow (1-\gamma/\alpha)\,s + \gamma X\,\mathrm{{softmax}}(\beta X^\top s)$ on a circle "
        rf"($n=2$, $L={len(context)}$, $\alpha={alpha:g}$, $\beta={beta:g}$, $\gamma={gamma:g}$); "
        f"queries start {d0:.3f} from their targets",
        y=0.99,
    )
    save_figure(fig, out_pdf, out_png, run_name=run_name)
