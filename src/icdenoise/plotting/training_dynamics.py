"""Figure 3 (training_dynamics): train/test MSE per epoch (seed mean, min-max band) and the final W_KQ, W_PV."""

from __future__ import annotations

import numpy as np

from ..io import read_table
from . import CASE_TITLES, ESTIMATOR_STYLE, MODEL_COLORS, baseline_level, plt, save_figure


def _curves_panel(ax, curves, baselines, case):
    for model, color in MODEL_COLORS.items():
        sub = curves[(curves["case"] == case) & (curves["model"] == model)]
        if sub.empty:
            continue
        for split, ls in (("train", "--"), ("test", "-")):
            s = sub[sub["split"] == split].groupby("epoch")["mse"]
            mean, lo, hi = s.mean(), s.min(), s.max()
            ax.plot(mean.index, mean.values, color=color, ls=ls, lw=1.3, label=f"{model}, {split}")
            ax.fill_between(mean.index, lo.values, hi.values, color=color, alpha=0.18, lw=0)
    ests = ["zero", "bayes"] + (["bayes_sigma0_to_0"] if case == "gmm" else [])
    for est in ests:
        level = baseline_level(baselines, case, est)
        if level is not None:
            st = ESTIMATOR_STYLE[est]
            ax.axhline(level, color=st["color"], ls=st["ls"], lw=1.1, label=st["label"])
            ax.annotate(
                f"{level:.4f}",
                xy=(1.0, level),
                xycoords=("axes fraction", "data"),
                xytext=(2, 0),
                textcoords="offset points",
                va="center",
                ha="left",
                fontsize=7,
                color=st["color"],
            )
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(r"MSE per component $\|\hat x - x\|^2/n$")
    ax.set_title(CASE_TITLES.get(case, case), loc="left", fontweight="bold")


def _heatmap(ax, fig, matrices, case, model, seed, name):
    sub = matrices[
        (matrices["case"] == case)
        & (matrices["model"] == model)
        & (matrices["seed"] == seed)
        & (matrices["matrix"] == name)
    ]
    if sub.empty:
        ax.set_axis_off()
        return
    n = int(sub["row"].max()) + 1
    W = np.zeros((n, n))
    W[sub["row"].to_numpy(), sub["col"].to_numpy()] = sub["value"].to_numpy()
    vmax = float(np.abs(W).max()) or 1.0
    im = ax.imshow(W, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
    sym = r"\beta" if name == "W_KQ" else r"\alpha"
    label = name.replace("_", "_{") + "}"
    ax.set_title(f"{model} attention\n${label}$, mean diag ${sym}$ = {np.mean(np.diag(W)):.3f}")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)


def plot_training_dynamics(
    curves, matrices, weights, baselines, out_pdf, out_png, heatmap_seed: int = 0, run_name: str | None = None
) -> None:
    """Figure 3 from the tables written by the gather_fig3 rule."""
    curves = read_table(curves, ["case", "model", "seed", "epoch", "split", "mse"])
    matrices = read_table(matrices, ["case", "model", "seed", "matrix", "row", "col", "value"])
    baselines = read_table(baselines, ["case", "estimator", "split", "mse"])
    read_table(weights, ["case", "model", "seed", "alpha", "beta"])
    cases = [c for c in CASE_TITLES if c in set(curves["case"])]
    models = [m for m in MODEL_COLORS if m in set(curves["model"])]
    ncol = 1 + 2 * len(models)
    fig, axes = plt.subplots(
        len(cases),
        ncol,
        figsize=(3.0 + 2.6 * 2 * len(models), 3.0 * len(cases)),
        squeeze=False,
        gridspec_kw={"width_ratios": [1.6] + [1] * (ncol - 1)},
    )
    for i, case in enumerate(cases):
        _curves_panel(axes[i, 0], curves, baselines, case)
        for j, model in enumerate(models):
            for k, name in enumerate(("W_KQ", "W_PV")):
                _heatmap(axes[i, 1 + 2 * j + k], fig, matrices, case, model, heatmap_seed, name)
    handles = {}
    for ax in axes[:, 0]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(lab, h)
    fig.legend(
        handles.values(),
        handles.keys(),
        loc="lower center",
        ncol=min(len(handles), 7),
        frameon=False,
        bbox_to_anchor=(0.5, -0.035),
    )
    seeds = sorted(set(curves["seed"]))
    fig.suptitle(
        f"Figure 3: one-layer attention trained to denoise in context ({len(seeds)} seeds: mean and "
        f"min-max band of the exact per-epoch MSE; weights of seed {heatmap_seed})",
        y=1.0,
    )
    fig.tight_layout()
    save_figure(fig, out_pdf, out_png, run_name=run_name)
