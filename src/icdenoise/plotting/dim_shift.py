"""Figure 4b (dim_shift): MSE when the task dimension (subspace d, sphere d, centres p) is shifted at inference time."""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D

from ..io import read_table
from . import CASE_TITLES, ESTIMATOR_STYLE, plt, save_figure, seed_stats

PARAM_LABEL = {
    "subspace": "subspace dimension $d$ at inference",
    "sphere": "sphere dimension $d$ ($S^d$ spans $d+1$ dims) at inference",
    "gmm": "number of mixture centres $p$ at inference",
}


def _oracle(oracles, case, estimator):
    sub = oracles[(oracles["case"] == case) & (oracles["estimator"] == estimator)]
    sub = sub.sort_values("source", key=lambda s: s != "theory").drop_duplicates("eval_value")  # theory first
    return sub.set_index("eval_value")["mse"].sort_index()


def _dim_shift_panel(ax, table, oracles, theory, case, L_colors):
    sub = table[table["case"] == case]
    param = sub["param"].iloc[0]
    train_value = int(sub["train_value"].iloc[0])
    model = sub["model"].iloc[0]
    per_dim = case == "subspace"  # MSE * n/d: the error per subspace dimension (the paper's Fig. 4b axis)
    n = float(sub["n"].iloc[0])
    zero = _oracle(oracles, case, "zero")
    bayes = _oracle(oracles, case, "bayes")

    def y(series):
        if not per_dim:
            return series.to_numpy()
        return series.to_numpy() * n / np.asarray(series.index, dtype=float)

    for L, color in L_colors.items():
        s = sub[sub["L"] == L]
        if s.empty:
            continue
        for state, ls, marker, lw in (("trained", "-", "o", 1.4), ("untrained", "--", None, 0.9)):
            t = s[s["model_state"] == state]
            if t.empty:
                continue
            mean, lo, hi = seed_stats(t, "eval_value", "mse")
            ax.plot(mean.index, y(mean), color=color, ls=ls, marker=marker, ms=3, lw=lw)
            if state == "trained":
                ax.fill_between(mean.index, y(lo), y(hi), color=color, alpha=0.15, lw=0)
        th = theory[(theory["case"] == case) & (theory["L"] == L) & (theory["estimator"] == "scaled_identity_trained")]
        if len(th):
            th = th.set_index("eval_value")["mse"].sort_index()
            ax.plot(th.index, y(th), color=color, ls=":", lw=1.1)
    st_b, st_z = ESTIMATOR_STYLE["bayes"], ESTIMATOR_STYLE["zero"]
    ax.plot(
        bayes.index, y(bayes), color=st_b["color"], ls=st_b["ls"], lw=1.3, marker="x" if not per_dim else None, ms=4
    )
    ax.plot(zero.index, y(zero), color=st_z["color"], ls=st_z["ls"], lw=1.3)
    ax.axvline(train_value, color="0.6", lw=0.8, ls="-", zorder=0)
    ax.annotate(
        f"trained at {param}={train_value}",
        xy=(train_value, 0.0),
        xycoords=("data", "axes fraction"),
        xytext=(3, 4),
        textcoords="offset points",
        fontsize=7,
        color="0.35",
    )
    ax.set_xlabel(PARAM_LABEL.get(case, param))
    ax.set_yscale("log")
    if per_dim:
        from matplotlib.ticker import FixedLocator, NullFormatter

        ax.set_ylabel(r"MSE $\cdot\, n/d$ (error per subspace dimension)")
        b, z = float(np.median(y(bayes))), float(np.median(y(zero)))
        ax.yaxis.set_major_locator(FixedLocator([b, 1.0, 1.5, z, 3.0, 4.0, 5.0]))
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:.3g}")
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_ylim(0.8 * b, None)  # room for the Bayes label under its line
        ax.text(
            0.02,
            b,
            f" Bayes: $\\sigma_0^2\\sigma_Z^2/(\\sigma_0^2+\\sigma_Z^2)$ = {b:.4g}",
            transform=ax.get_yaxis_transform(),
            va="top",
            fontsize=7,
        )
        ax.text(
            0.02,
            z,
            f" zero predictor: $\\sigma_0^2$ = {z:.3g}",
            transform=ax.get_yaxis_transform(),
            va="top",
            fontsize=7,
        )
    else:
        ax.set_ylabel(r"MSE per component $\|\hat x - x\|^2/n$")
    if case == "gmm":
        from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(FixedLocator(sorted(set(sub["eval_value"]))))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_title(f"{CASE_TITLES.get(case, case)}: {model} attention, trained at L={int(sub['train_L'].iloc[0])}")
    return model


def plot_dim_shift(table, oracles, theory, out_pdf, out_png, run_name: str | None = None) -> None:
    """Figure 4b from dim_shift.parquet, dim_shift_oracles.parquet and dim_shift_theory.parquet."""
    table = read_table(
        table,
        [
            "case",
            "model",
            "param",
            "n",
            "train_value",
            "eval_value",
            "train_L",
            "L",
            "model_state",
            "seed",
            "num_prompts",
            "mse",
        ],
    )
    oracles = read_table(oracles, ["case", "param", "eval_value", "estimator", "source", "mse"])
    theory = read_table(theory, ["case", "eval_value", "L", "estimator", "mse"])
    cases = [c for c in CASE_TITLES if c in set(table["case"])]
    Ls = sorted(set(table["L"]))
    cmap = plt.get_cmap("viridis")
    L_colors = {L: cmap(0.9 * i / max(1, len(Ls) - 1)) for i, L in enumerate(Ls)}
    fig, axes = plt.subplots(1, len(cases), figsize=(5.0 * len(cases), 4.4), squeeze=False)
    for ax, case in zip(axes[0], cases, strict=True):
        _dim_shift_panel(ax, table, oracles, theory, case, L_colors)
    handles = [Line2D([], [], color=c, lw=2, label=f"L = {L}") for L, c in L_colors.items()]
    handles += [
        Line2D([], [], color="0.3", ls="-", marker="o", ms=3, label="trained (seed mean, min-max band)"),
        Line2D([], [], color="0.3", ls="--", lw=0.9, label="untrained (the same runs' initial weights)"),
    ]
    if (theory["estimator"] == "scaled_identity_trained").any():
        handles.append(Line2D([], [], color="0.3", ls=":", label=r"theory: scaled identity with trained $\alpha\beta$"))
    handles += [
        Line2D([], [], color="black", ls="--", label="Bayes optimal at the shifted setting"),
        Line2D([], [], color="0.45", ls=":", lw=1.3, label="zero predictor"),
    ]
    fig.legend(
        handles=handles, loc="lower center", ncol=min(len(handles), 5), frameon=False, bbox_to_anchor=(0.5, -0.02)
    )
    seeds = sorted(set(table["seed"]))
    prompts = int(table["num_prompts"].iloc[0])
    fig.suptitle(
        f"Figure 4b: shifting the task dimension at inference time ({len(seeds)} seed{'s' if len(seeds) > 1 else ''}, "
        f"{prompts} fresh prompts per point)",
        y=1.0,
    )
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    save_figure(fig, out_pdf, out_png, run_name=run_name)
