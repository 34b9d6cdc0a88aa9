"""Gap study (gap_study, beyond the paper): fresh MSE / Bayes against N, the online floor, and the floor against L.

Top row, one panel per (case, model): each seed's fresh MSE / Bayes against the training-set size N (log x) with
the seed mean, the seed-mean train MSE (dotted: below 1 is overfitting), the online floor as a band (seed mean ±
its SE), the best scaled identity (the α–β landscape minimum) and Bayes as lines, and, for linear attention, the
finite-L theory γ*(L). Bottom row: the online floor / Bayes against the context length L (per case in
``online_L``) with the scaled-identity optimum at each L, and the estimation excess fresh(N) − floor against N on
log-log axes with the fitted slope.
"""

from __future__ import annotations

import numpy as np

from ..io import read_table
from . import CASE_TITLES, MODEL_COLORS, plt, save_figure

CASE_COLORS = {"subspace": "tab:blue", "sphere": "tab:green", "gmm": "tab:red"}
MODEL_MARKERS = {"linear": "s", "softmax": "o"}


def _ref(refs, case, model, L, name):
    r = refs[(refs["case"] == case) & (refs["model"] == model) & (refs["L"] == L) & (refs["reference"] == name)]
    return None if r.empty else r.iloc[0]


def _n_panel(ax, runs, refs, s):
    case, model, L = s["case"], s["model"], int(s["L"])
    bayes = float(s["bayes_mse"])
    color = MODEL_COLORS.get(model, "tab:gray")
    fin = runs[(runs["case"] == case) & (runs["model"] == model) & (runs["L"] == L) & (runs["training"] == "finite")]
    onl = runs[(runs["case"] == case) & (runs["model"] == model) & (runs["L"] == L) & (runs["training"] == "online")]
    ax.scatter(fin["N"], fin["fresh_mse"] / bayes, s=10, color=color, alpha=0.45, lw=0, label="seeds (fresh MSE)")
    g = fin.groupby("N")
    ax.plot(g["fresh_mse"].mean().index, g["fresh_mse"].mean() / bayes, "-", color=color, marker=MODEL_MARKERS[model],
            ms=4, label="seed mean, fresh prompts")  # fmt: skip
    ax.plot(g["train_mse"].mean().index, g["train_mse"].mean() / bayes, ":", color=color, label="seed mean, train")
    if len(onl):
        lo = (float(s["floor_mse"]) - float(s["floor_se"])) / bayes
        hi = (float(s["floor_mse"]) + float(s["floor_se"])) / bayes
        ax.axhspan(lo, hi, color="tab:purple", alpha=0.25, lw=0, label="online floor (N → ∞) ± SE")
    ax.axhline(float(s["scaled_identity_mse"]) / bayes, color="tab:olive", ls="-.", lw=1.2,
               label="best scaled identity (landscape min.)")  # fmt: skip
    th = _ref(refs, case, model, L, "finite_L_theory")
    if th is not None:
        ax.axhline(float(th["mse"]) / bayes, color="tab:brown", ls=(0, (1, 1)), lw=1.2, label=r"theory $\gamma^*(L)$")
    ax.axhline(1.0, color="black", ls="--", lw=1, label="Bayes")
    ax.set_xscale("log")
    Ns = sorted(fin["N"].unique())
    ax.set_xticks(Ns, [str(v) for v in Ns])
    ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.axvline(int(s["N_ref"]), color="0.7", lw=0.8, zorder=0)
    ax.set_xlabel("training prompts N")
    ax.set_ylabel("MSE / Bayes")
    ax.set_title(f"{CASE_TITLES.get(case, case)}\n{model} attention, L = {L}")
    txt = (
        f"N = {int(s['N_ref'])}: gap {100 * s['total_gap'] / bayes:.1f}% of Bayes\n"
        f"estimation {100 * s['est_share']:.0f}%, optimisation {100 * s['optim_share']:.0f}%, "
        f"approximation {100 * s['approx_share']:.0f}%\n"
        f"excess ∝ N^{s['slope']:.2f} (± {s['slope_se']:.2f})"
    )
    ax.text(0.97, 0.97, txt, transform=ax.transAxes, ha="right", va="top", fontsize=7,
            bbox=dict(boxstyle="round", fc="white", ec="0.8", alpha=0.9))  # fmt: skip


def _l_panel(ax, runs, refs, case, model):
    onl = runs[(runs["case"] == case) & (runs["model"] == model) & (runs["training"] == "online")]
    bay = refs[(refs["case"] == case) & (refs["model"] == model) & (refs["reference"] == "bayes")]
    bayes = bay.set_index("L")["mse"]  # each L's own fresh prompts: ratios are paired on the prompts
    si = refs[(refs["case"] == case) & (refs["model"] == model) & (refs["reference"] == "scaled_identity_opt")]
    color = CASE_COLORS.get(case, "tab:gray")
    ratio = onl["fresh_mse"] / onl["bayes_mse"]
    ax.scatter(onl["L"], ratio, s=10, color=color, alpha=0.45, lw=0, label="online, seeds")
    g = ratio.groupby(onl["L"]).mean()
    ax.plot(g.index, g, "-o", color=color, ms=4, label="online floor (seed mean)")
    si = si.sort_values("L")
    ax.plot(si["L"], si["mse"].to_numpy() / bayes.loc[si["L"]].to_numpy(), "-.", color="tab:olive",
            label="best scaled identity")  # fmt: skip
    ax.axhline(1.0, color="black", ls="--", lw=1, label="Bayes")
    Ls = sorted(onl["L"].unique())
    ax.set_xscale("log")
    ax.set_xticks(Ls, [str(v) for v in Ls])
    ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.set_xlabel("context length L")
    ax.set_ylabel("MSE / Bayes")
    ax.set_title(f"{CASE_TITLES.get(case, case)}: online floor against L\n({model} attention)")
    ax.legend(loc="upper right", frameon=False)


def _excess_panel(ax, runs, summary):
    for s in summary.itertuples():
        fin = runs[(runs["case"] == s.case) & (runs["model"] == s.model) & (runs["L"] == s.L)]
        fin = fin[fin["training"] == "finite"]
        onl = runs[(runs["case"] == s.case) & (runs["model"] == s.model) & (runs["L"] == s.L)]
        floor = float(onl.loc[onl["training"] == "online", "excess_mse"].mean())
        g = fin.groupby("N")["excess_mse"].mean() - floor
        color = CASE_COLORS.get(s.case, "tab:gray")
        ls = "-" if s.model == "softmax" else "--"
        ok = g > 0
        label = f"{s.case}/{s.model}: slope {s.slope:.2f} ± {s.slope_se:.2f}"
        ax.plot(g.index[ok], g[ok] / s.bayes_mse, ls, marker=MODEL_MARKERS.get(s.model, "o"), color=color, ms=4,
                label=label)  # fmt: skip
    Ns = np.array(sorted(runs.loc[runs["training"] == "finite", "N"].unique()), float)
    ax.set_xscale("log")
    ax.set_yscale("log")
    if len(Ns):
        ref = 0.3 * (Ns / Ns[0]) ** -1.0
        ax.plot(Ns, ref, color="0.6", lw=0.8, ls=(0, (4, 2)), label=r"$\propto N^{-1}$")
        ax.set_xticks(Ns, [str(int(v)) for v in Ns])
        ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.set_xlabel("training prompts N")
    ax.set_ylabel("(fresh MSE − online floor) / Bayes")
    ax.set_title("estimation excess against N (seed means; log-log; slope: joint fit floor + c·N^s)")
    ax.legend(loc="lower left", frameon=False)


def plot_gap_study(table: str, refs: str, summary: str, out_pdf: str, out_png: str) -> None:
    """The gap-study figure from gap_study, gap_study_references and gap_study_summary."""
    runs, refs, summary = read_table(table), read_table(refs), read_table(summary)
    k = max(1, len(summary))
    lcases = [
        (c, m)
        for (c, m), g in runs[runs["training"] == "online"].groupby(["case", "model"], sort=False)
        if g["L"].nunique() > 1
    ]
    bottom = len(lcases) + 2
    cols = max(k, bottom)
    fig = plt.figure(figsize=(3.6 * cols, 7.6), layout="constrained")
    gs = fig.add_gridspec(2, cols)
    legend = {}
    for i, s in enumerate(summary.to_dict("records")):
        ax = fig.add_subplot(gs[0, i])
        _n_panel(ax, runs, refs, s)
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(lab, h)
    for j, (c, m) in enumerate(lcases):
        _l_panel(fig.add_subplot(gs[1, j]), runs, refs, c, m)
    _excess_panel(fig.add_subplot(gs[1, len(lcases) : len(lcases) + 2]), runs, summary)
    fig.legend(legend.values(), legend.keys(), loc="outside lower center", ncol=4, frameon=False)
    fig.suptitle(
        "Where the gap to Bayes comes from: estimation (finite N, shrinks with N), optimisation (online floor over "
        "the best scaled identity) and approximation (best scaled identity over Bayes: the architecture at this L)",
        fontsize=10,
    )
    save_figure(fig, out_pdf, out_png)
