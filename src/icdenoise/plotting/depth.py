"""Trained depth (depth, beyond the paper): MSE / Bayes against K per case; the gain against L; learned λ per layer.

Top row, one panel per case at the config's L: fresh MSE / Bayes (seed mean ± SE) of the trained K-layer models
against K (solid: tied, dashed: untied; blue linear, orange softmax), the one-layer (paper) model at K = 1, the
Hopfield K-step iteration from the one-layer weights (dotted, best γ/α per K), and for linear attention the best
degree-K polynomial of S (grey) and its product form (brown: what scaled-identity layers can apply). Bottom left:
the best trained gain (one layer − K layers, over K and tied/untied) of subspace/linear against L, with the
polynomial's; bottom right: learned 1 − λ_k of the tied softmax models against K, with the Hopfield best γ/α.
"""

from __future__ import annotations

import numpy as np

from ..io import read_table
from . import CASE_TITLES, MODEL_COLORS, plt, save_figure


def _case_panel(ax, s, case, L):
    sub = s[(s["case"] == case) & (s["L"] == L)]
    for family, g in sub.groupby("family", sort=False):
        color = MODEL_COLORS.get(family, "tab:gray")
        one = g[g["estimator"] == "one_layer"]
        for tied, style in ((True, "-"), (False, "--")):
            t = g[(g["estimator"] == "trained") & ((g["tied"] == tied) | (g["K"] == 1))].sort_values("K")
            if len(t):
                r = t["mse"] / t["bayes_mse"]
                ax.errorbar(t["K"], r, t["mse_se"] / t["bayes_mse"], color=color, ls=style, marker="o", ms=3,
                            capsize=2, label=f"{family}, {'tied' if tied else 'untied'} (learned λ)")  # fmt: skip
        if len(one):
            ax.plot([1], one["mse"] / one["bayes_mse"], marker="*", ms=10, color=color, ls="none",
                    label=f"{family}, one layer λ = 0 (paper)")  # fmt: skip
        h = g[g["estimator"] == "hopfield"].sort_values("K")
        ax.plot(h["K"], h["mse"] / h["bayes_mse"], color=color, ls=":", marker="x", label=f"{family}, Hopfield K steps")
        for est, c, lab in (("polynomial", "0.5", "best polynomial of S"), ("product", "tab:brown", "product form")):
            p = g[g["estimator"] == est].sort_values("K")
            if len(p):
                ax.plot(p["K"], p["mse"] / p["bayes_mse"], color=c, ls="-.", marker=".", label=lab)
    ax.axhline(1.0, color="k", lw=0.8, ls="--", label="Bayes")
    ax.set_title(f"{CASE_TITLES.get(case, case)}, L = {L}")
    ax.set_xlabel("layers K")
    ax.set_ylabel("fresh MSE / Bayes")
    ax.set_xticks(sorted(sub["K"].unique()[sub["K"].unique() > 0]))


def _L_panel(ax, s):
    sub = s[(s["case"] == "subspace") & (s["family"] == "linear")]
    if sub["L"].nunique() < 2:
        ax.set_axis_off()
        return
    for est, color, lab in (("trained", "tab:blue", "best trained"), ("polynomial", "0.5", "best polynomial")):
        rows = []
        for L, g in sub[sub["estimator"] == est].groupby("L"):
            g = g[g["K"] > 1]
            if len(g):
                b = g.loc[g["gain"].idxmax()]
                rows.append((L, b["gain"] / b["bayes_mse"], b["gain_se"] / b["bayes_mse"]))
        if rows:
            L, gain, se = map(np.array, zip(*rows, strict=True))
            ax.errorbar(L, gain, se, color=color, marker="o", capsize=2, label=f"{lab} (K ≥ 2)")
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xscale("log")
    Ls = sorted(int(x) for x in sub["L"].unique())
    ax.set_xticks(Ls, [str(x) for x in Ls])
    ax.minorticks_off()
    ax.set_xlabel("context length L")
    ax.set_ylabel("gain over one layer / Bayes")
    ax.set_title("subspace, linear: depth gain against L")
    ax.legend(fontsize=7)


def _lam_panel(ax, s, layers):
    tl = layers[(layers["family"] == "softmax") & layers["tied"] & layers["residual"] & (layers["K"] > 1)]
    for case, g in tl.groupby("case", sort=False):
        m = g.groupby("K")["gamma_over_alpha"].agg(["mean", "std"]).reset_index()
        ax.errorbar(m["K"], m["mean"], m["std"], marker="o", capsize=2, label=f"{case}: trained 1 − λ")
        h = s[(s["case"] == case) & (s["family"] == "softmax") & (s["estimator"] == "hopfield") & (s["K"] > 1)]
        ax.plot(h["K"], h["gamma_over_alpha"], ls=":", marker="x", color=ax.lines[-1].get_color(),
                label=f"{case}: Hopfield best γ/α")  # fmt: skip
    ax.set_xticks(sorted(int(k) for k in tl["K"].unique()))
    ax.set_xlabel("layers K (tied softmax)")
    ax.set_ylabel("1 − λ  (= γ/α of Eq. 16)")
    ax.set_title("learned step against energy descent")
    if len(tl):
        ax.legend(fontsize=7)


def plot_depth(summary: str, layers: str, out_pdf: str, out_png: str) -> None:
    """The depth figure from depth.parquet and depth_layers.parquet."""
    s, lay = read_table(summary), read_table(layers)
    L0 = int(s.loc[s["estimator"] == "one_layer", "L"].max())
    cases = list(dict.fromkeys(s.loc[s["L"] == L0, "case"]))
    cols = max(len(cases), 2)
    fig = plt.figure(figsize=(3.8 * cols, 7.4), layout="constrained")
    gs = fig.add_gridspec(2, cols)
    legend = {}
    for i, case in enumerate(cases):
        ax = fig.add_subplot(gs[0, i])
        _case_panel(ax, s, case, L0)
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(lab, h)
    _L_panel(fig.add_subplot(gs[1, 0]), s)
    _lam_panel(fig.add_subplot(gs[1, 1]), s, lay)
    fig.legend(legend.values(), legend.keys(), loc="outside lower center", ncol=4, frameon=False, fontsize=8)
    fig.suptitle("Trained depth: does a K-layer attention network beat one step? (fresh prompts, paired)")
    save_figure(fig, out_pdf, out_png)
