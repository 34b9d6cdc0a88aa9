"""Phase diagram (phase_diagram, beyond the paper): test MSE / Bayes over each grid, and slices against theory.

Top rows: one heatmap per (case, model) of test MSE / Bayes over the grid's two axes, each cell annotated, the
cells where "nearly achieves Bayes" holds (test within ``near_bayes`` of Bayes) outlined. Bottom row: one
slice panel per case of the learned weight scale against its theory line at every value of the other axis:
subspace/linear αβ against γ*(L); sphere and gmm softmax |β| against 1/σZ² (and 1/(σ0²+σZ²) for gmm).
"""

from __future__ import annotations

import numpy as np

from ..io import read_table
from . import plt, save_figure

#: Per case: the slice panel's model, learned quantity, its theory columns and the preferred x axis.
SLICES = {
    "subspace": ("linear", "alpha_beta", ("gamma_star",), "L", "αβ (linear)"),
    "sphere": ("softmax", "abs_beta", ("beta_heuristic",), "sigma_z2", "|β| (softmax)"),
    "gmm": ("softmax", "abs_beta", ("beta_heuristic", "beta_prop4"), "sigma_z2", "|β| (softmax)"),
}
THEORY_LABELS = {"gamma_star": "γ*(L)", "beta_heuristic": "1/σZ²", "beta_prop4": "1/(σ0²+σZ²)"}


def grid_axes(g) -> list[str]:
    """The settings columns that vary within one case's rows (the grid's axes), in SETTINGS_COLUMNS order."""
    from ..studies.phase_diagram import SETTINGS_COLUMNS

    return [c for c in SETTINGS_COLUMNS if g[c].nunique(dropna=True) > 1]


def _heatmap(ax, g, near_bayes: float):
    """test MSE / Bayes of one (case, model) over its first two axes (one axis: a single row)."""
    axes = grid_axes(g)
    if not axes:
        axes = ["L"]
    y, x = (axes + [None])[:2] if len(axes) >= 2 else (None, axes[0])
    xs = sorted(g[x].unique())
    ys = sorted(g[y].unique()) if y else [None]
    Z = np.full((len(ys), len(xs)), np.nan)
    for r in g.itertuples():
        i = ys.index(getattr(r, y)) if y else 0
        Z[i, xs.index(getattr(r, x))] = r.test_ratio
    im = ax.imshow(Z, origin="lower", aspect="auto", cmap="viridis_r", vmin=1.0, vmax=max(1.5, np.nanmax(Z)))
    for i in range(len(ys)):
        for j in range(len(xs)):
            if np.isfinite(Z[i, j]):
                ax.text(j, i, f"{Z[i, j]:.2f}", ha="center", va="center", fontsize=6, color="w")
                if Z[i, j] <= 1 + near_bayes:
                    ax.add_patch(_cell(j, i))
    ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs], fontsize=7)
    ax.set_yticks(range(len(ys)), [f"{v:g}" for v in ys] if y else [""], fontsize=7)
    ax.set_xlabel(x, fontsize=8)
    if y:
        ax.set_ylabel(y, fontsize=8)
    return im


def _cell(j, i):
    from matplotlib.patches import Rectangle

    return Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=1.5)


def _slice(ax, g, case: str):
    """The learned quantity against its theory along the preferred axis, one line per value of the other axis."""
    model, col, theory, prefer, label = SLICES[case]
    g = g[g["model"] == model]
    if g.empty:
        ax.set_axis_off()
        return
    axes = grid_axes(g) or ["L"]
    x = prefer if prefer in axes else axes[0]
    other = next((a for a in axes if a != x), None)
    groups = list(g.groupby(other, sort=True)) if other else [(None, g)]
    colors = iter(plt.cm.viridis(np.linspace(0, 0.9, len(groups))))
    for value, h in groups:
        h = h.sort_values(x)
        c = next(colors)
        tag = f"{other}={value:g}" if other else model
        ax.plot(h[x], h[col], "o-", color=c, ms=3, lw=1, label=tag)
        for k, th in enumerate(theory):
            ax.plot(h[x], h[th], ("--", ":")[k], color=c, lw=1)
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    ax.set_xticks(sorted(g[x].unique()), [f"{v:g}" for v in sorted(g[x].unique())], fontsize=7)
    ax.xaxis.set_minor_formatter(NullFormatter())
    if col == "abs_beta":
        ax.set_yscale("log")
        ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(x, fontsize=8)
    ax.set_ylabel(label, fontsize=8)
    lines = " and ".join(f"{THEORY_LABELS[t]} ({('dashed', 'dotted')[k]})" for k, t in enumerate(theory))
    ax.set_title(f"{case}: learned (solid) vs {lines}", fontsize=7)
    ax.legend(fontsize=6)


def plot_phase_diagram(table: str, out_pdf: str, out_png: str, *, near_bayes: float) -> None:
    """The phase-diagram figure from phase_diagram.parquet."""
    df = read_table(table)
    pairs = list(df.groupby(["case", "model"], sort=False).groups)
    cases = list(dict.fromkeys(df["case"]))
    ncol = max(len(pairs), len(cases), 1)
    ncol_h = min(ncol, 3)
    nrow_h = -(-len(pairs) // ncol_h)
    fig, axs = plt.subplots(nrow_h + 1, ncol_h, figsize=(3.6 * ncol_h, 2.8 * (nrow_h + 1)), squeeze=False)
    for k, (case, model) in enumerate(pairs):
        ax = axs[k // ncol_h, k % ncol_h]
        g = df[(df["case"] == case) & (df["model"] == model)]
        im = _heatmap(ax, g, near_bayes)
        ax.set_title(f"{case} / {model}: test MSE / Bayes", fontsize=8)
        fig.colorbar(im, ax=ax, fraction=0.046)
    for k in range(len(pairs), nrow_h * ncol_h):
        axs[k // ncol_h, k % ncol_h].set_axis_off()
    for k in range(ncol_h):
        ax = axs[nrow_h, k]
        if k < len(cases) and cases[k] in SLICES:
            _slice(ax, df[df["case"] == cases[k]], cases[k])
        else:
            ax.set_axis_off()
    fig.suptitle(f"Phase diagram: red cells nearly achieve Bayes (test within {100 * near_bayes:.0f}%)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, out_pdf, out_png)
