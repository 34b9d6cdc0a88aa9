"""Figure 6 (alpha_beta_landscape): α–β landscapes of softmax attention, W_KQ = βI, W_PV = αI, a panel per case."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import LogNorm

from ..io import read_table
from . import CASE_TITLES, plt, save_figure

POINT_STYLE = {
    "heuristic": dict(marker="o", s=70, c="limegreen", edgecolors="black", linewidths=0.8, zorder=6),
    "heuristic_prop4": dict(marker="D", s=50, c="limegreen", edgecolors="black", linewidths=0.8, zorder=6),
    "trained": dict(marker="o", s=22, c="tab:orange", edgecolors="black", linewidths=0.5, zorder=7),
    "trained_flipped": dict(marker="s", s=22, c="tab:orange", edgecolors="black", linewidths=0.5, zorder=7),
    "trained_mean": dict(marker="P", s=95, c="tab:orange", edgecolors="black", linewidths=0.8, zorder=8),
    "grid_min": dict(marker="*", s=170, c="white", edgecolors="black", linewidths=0.8, zorder=9),
    "valley_min": dict(marker="x", s=45, c="white", linewidths=1.5, zorder=9),
}
POINT_LABEL = {
    "heuristic": "heuristic",
    "heuristic_prop4": r"heuristic, $\beta = 1/(\sigma_0^2+\sigma_Z^2)$",
    "trained": r"trained, each seed $(|\alpha|, |\beta|)$",
    "trained_flipped": r"trained seed at $(-\alpha,-\beta)$, mirrored",
    "trained_mean": "trained, seed mean",
    "grid_min": "grid minimum",
    "valley_min": r"valley minimum ($\alpha$ exact)",
}
HEURISTIC_TEXT = {
    "subspace": r"heuristic: $\alpha\beta = 1/(\sigma_0^2+\sigma_Z^2)$ (small $\beta$)",
    "sphere": r"heuristic: $\alpha = 1,\ \beta = 1/\sigma_Z^2$",
    "gmm": r"heuristic: $\alpha = 1,\ \beta = 1/\sigma_Z^2$ (Eq. 8)",
}


def _style_key(row) -> str:
    if row["kind"] == "trained":
        return "trained_flipped" if bool(row["flipped"]) else "trained"
    return str(row["point"])


def _panel(ax, fig, grid, points, case):
    g = grid[grid["case"] == case]
    alphas = np.unique(g["alpha"].to_numpy())
    betas = np.unique(g["beta"].to_numpy())
    M = g.sort_values(["alpha", "beta"])["mse"].to_numpy().reshape(len(alphas), len(betas))  # rows α, cols β
    lo, hi = float(M.min()), float(np.quantile(M, 0.9))
    levels = np.geomspace(lo, max(hi, lo * 1.01), 24)
    cf = ax.contourf(
        betas, alphas, np.clip(M, lo, None), levels=levels, norm=LogNorm(lo, levels[-1]), cmap="magma", extend="max"
    )
    # the valley: best α for each β on the grid
    ax.plot(betas, alphas[np.argmin(M, axis=0)], ":", color="white", lw=1.0, alpha=0.8)
    pts = points[points["case"] == case]
    seen = set()
    for _, row in pts.iterrows():
        key = _style_key(row)
        label = None
        if key not in seen:
            label = HEURISTIC_TEXT.get(case, POINT_LABEL[key]) if key == "heuristic" else POINT_LABEL[key]
            seen.add(key)
        ax.scatter([row["beta"]], [row["alpha"]], label=label, **POINT_STYLE[key])
    if case == "subspace":
        s = pts[pts["kind"] == "heuristic"].iloc[0]
        prod = float(s["alpha"] * s["beta"])
        bb = np.linspace(max(betas[1], prod / alphas[-1]), betas[-1], 200)
        ax.plot(bb, prod / bb, "--", color="limegreen", lw=1.2, label=rf"$\alpha\beta = {prod:.3f}$")
    ax.set_xlim(betas[0], betas[-1])
    ax.set_ylim(alphas[0], alphas[-1])
    ax.set_xlabel(r"$\beta$ ($W_{KQ} = \beta I$)")
    ax.set_ylabel(r"$\alpha$ ($W_{PV} = \alpha I$)")
    gm = pts[pts["kind"] == "grid_min"].iloc[0]
    ax.set_title(
        f"{CASE_TITLES.get(case, case)}\ngrid min: $\\alpha$ = {gm['alpha']:.2f}, "
        f"$\\beta$ = {gm['beta']:.2f}, MSE = {gm['mse']:.4f}"
    )
    cb = fig.colorbar(cf, ax=ax, fraction=0.046, pad=0.03)
    cb.set_label("MSE per component (log scale)")
    ticks = np.geomspace(levels[0], levels[-1], 6)
    cb.set_ticks(ticks)
    cb.set_ticklabels([f"{t:.3g}" for t in ticks])
    cb.minorticks_off()
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=6.8, frameon=False)


def plot_alpha_beta_landscape(grid, points, out_pdf, out_png, run_name: str | None = None) -> None:
    """Figure 6 from the tables of rule gather_landscape."""
    grid = read_table(grid, ["case", "alpha", "beta", "mse"])
    points = read_table(points, ["case", "kind", "point", "seed", "alpha", "beta", "mse", "flipped"])
    cases = [c for c in CASE_TITLES if c in set(grid["case"])]
    fig, axes = plt.subplots(1, len(cases), figsize=(4.8 * len(cases), 5.2), squeeze=False)
    for ax, case in zip(axes[0], cases, strict=True):
        _panel(ax, fig, grid, points, case)
    n_alpha = grid[grid["case"] == cases[0]]["alpha"].nunique()
    n_beta = grid[grid["case"] == cases[0]]["beta"].nunique()
    fig.suptitle(
        f"Figure 6: MSE of softmax attention with scaled-identity weights on a {n_beta} x {n_alpha} grid "
        "(dotted: best grid $\\alpha$ per $\\beta$)",
        y=1.0,
    )
    fig.tight_layout()
    save_figure(fig, out_pdf, out_png, run_name=run_name)
