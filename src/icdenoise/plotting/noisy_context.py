"""Noisy context (noisy_context, beyond the paper): MSE / Bayes against K, σ_Z² and L; best horizon; the 1-D panel.

Rows: against K (per case), against σ_Z², against L, then the best horizon K·η against σ_Z² and the follow-up's
one-dimensional illustration (particles before and after Stage 1), then the trained networks against their depth K
(per case, with and without the long-range skip; seed mean ± one SE, with the one-step and best two-stage lines).
"""

from __future__ import annotations

from ..io import read_table
from . import CASE_TITLES, plt, save_figure

STYLE = {
    "one_step": dict(color="tab:red", ls="-", marker="o", label="one step (noise bandwidth)"),
    "scaled_gaussian": dict(color="tab:orange", ls="-.", marker="s", label=r"best $\alpha\,NW_{1/\beta}$ (fitted)"),
    "two_stage": dict(color="tab:blue", ls="-", marker="^", label="two stage (best h, η, K)"),
    "clean_one_step": dict(color="tab:green", ls=":", marker="v", label="one step, clean context"),
}
H_COLORS = ["tab:blue", "tab:purple", "tab:cyan", "tab:brown", "tab:olive", "tab:pink"]


def _own_level(df, case) -> float:
    """The case's own σ_Z² (where the L sweep runs: factor 1.0 of the σ sweep)."""
    return float(df.loc[(df["case"] == case) & (df["sweep"] == "L"), "sigma_z2"].iloc[0])


def _k_panel(ax, tab, case):
    sub = tab[(tab["case"] == case) & (tab["sweep"] == "sigma")]
    own = _own_level(tab, case)
    at = sub[sub["sigma_z2"] == own]
    bm = float(at.loc[at["estimator"] == "bayes", "mse"].iloc[0])
    ts = at[at["estimator"] == "two_stage"]
    for i, (h, g) in enumerate(ts.groupby("h")):
        best_eta = g.groupby("eta")["mse"].min().idxmin()
        gg = g[g["eta"] == best_eta].sort_values("K")
        ax.plot(gg["K"], gg["mse"] / bm, color=H_COLORS[i % len(H_COLORS)], lw=1.2,
                label=f"two stage, h = {h / own:g}σ², η = {best_eta:g}")  # fmt: skip
    for name in ("scaled_gaussian", "clean_one_step"):
        ax.axhline(float(at.loc[at["estimator"] == name, "mse"].iloc[0]) / bm, color=STYLE[name]["color"],
                   ls=STYLE[name]["ls"], lw=1, label=STYLE[name]["label"])  # fmt: skip
    ax.axhline(1.0, color="black", ls="--", lw=1, label="Bayes")
    ax.set_title(f"{CASE_TITLES[case]}\nσ_Z² = {own:g}, L = {int(at['L'].iloc[0])}", fontsize=9)
    ax.set_xlabel("particle steps K (K = 0: one step)")
    ax.set_ylabel("MSE / Bayes")
    ax.legend(fontsize=6)


def _sweep_panel(ax, summ, case, sweep, x):
    sub = summ[(summ["case"] == case) & (summ["sweep"] == sweep)].sort_values(x)
    for name, st in STYLE.items():
        ax.plot(sub[x], sub[f"{name}_ratio"], **{**st, "ms": 3, "lw": 1.2})
    ax.axhline(1.0, color="black", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_xticks(list(sub[x]), [f"{v:g}" for v in sub[x]], fontsize=7)
    ax.minorticks_off()
    ax.set_xlabel("σ_Z²" if x == "sigma_z2" else "context length L")
    ax.set_ylabel("MSE / Bayes")
    ax.legend(fontsize=6)


def _horizon_panel(ax, summ):
    for case, g in summ[summ["sweep"] == "sigma"].groupby("case"):
        g = g.sort_values("sigma_z2")
        ax.plot(g["sigma_z2"] / _own_level(summ, case), g["best_horizon"], marker="o", label=case)
    ax.set_xscale("log")
    sig = summ[summ["sweep"] == "sigma"]
    factors = sorted(set(sig["sigma_z2"] / sig["case"].map({c: _own_level(summ, c) for c in set(sig["case"])})))
    ax.set_xticks(factors, [f"{f:g}" for f in factors], fontsize=7)
    ax.minorticks_off()
    ax.set_xlabel("σ_Z² / the case's σ_Z²")
    ax.set_ylabel("best horizon K·η")
    ax.set_title("depth–noise relation", fontsize=9)
    ax.legend(fontsize=7)


def _illustration_panel(ax, ill):
    p = ill[ill["kind"] == "particle"]
    est = dict(
        zip(ill.loc[ill["kind"] == "estimate", "name"], ill.loc[ill["kind"] == "estimate", "value"], strict=True)
    )
    before, after = p[p["name"] == "before"]["value"], p[p["name"] == "after"]["value"]
    ax.scatter(before, [1.0] * len(before), s=14, color="0.5", label="noisy tokens (before)")
    ax.scatter(after, [0.0] * len(after), s=14, color="tab:blue", label="particles after Stage 1")
    for i, v in enumerate(before):
        ax.plot([v, after.iloc[i]], [1.0, 0.0], color="0.8", lw=0.5, zorder=0)
    marks = (("query", "black", "x̃"), ("one_step", "tab:red", "one step"), ("two_stage", "tab:blue", "two stage"),
             ("bayes", "black", "Bayes (true prior)"))  # fmt: skip
    for j, (name, color, label) in enumerate(marks):
        ax.axvline(est[name], color=color, ls=[":", "-", "-", "--"][j], lw=1.2, label=f"{label}: {est[name]:+.2f}")
    ax.set_yticks([0, 1], ["after", "before"])
    ax.set_xlabel("token value (1-D)")
    ax.set_title("two-mode prior at ±2, σ² = 0.5, 24 tokens", fontsize=9)
    ax.legend(fontsize=6, loc="center left")


def _trained_panel(ax, tr, case):
    """MSE / Bayes of the trained networks against K: skip and no skip (K = 1 is one model), seed mean ± SE."""
    import numpy as np
    import pandas as pd

    g = tr[tr["case"] == case]
    net = g[g["estimator"] == "trained"]
    one = net[net["K"] == 1]
    for skip, color, label in ((True, "tab:blue", "with long-range skip"), (False, "tab:purple", "without skip")):
        sub = pd.concat([one, net[(net["K"] > 1) & (net["skip"] == skip)]], ignore_index=True)
        st = sub.groupby("K")["mse_over_bayes"].agg(["mean", "std", "count"])
        se = st["std"].fillna(0.0) / np.sqrt(st["count"])
        ax.plot(st.index, st["mean"], color=color, marker="o", ms=3, lw=1.2, label=label)
        ax.fill_between(st.index, st["mean"] - se, st["mean"] + se, color=color, alpha=0.2, lw=0)
    two = g[g["estimator"] == "two_stage"].iloc[0]
    for name, color, ls, label in (
        ("one_step", "tab:red", "-", "one step (noise bandwidth)"),
        ("two_stage", "tab:green", "-.", f"best two stage (K = {int(two['steps'])}, η = {two['eta']:g})"),
    ):
        ax.axhline(
            float(g.loc[g["estimator"] == name, "mse_over_bayes"].iloc[0]), color=color, ls=ls, lw=1, label=label
        )
    ax.axhline(1.0, color="black", ls="--", lw=1, label="Bayes")
    Ks = sorted(set(net["K"]))
    ax.set_xticks(Ks, [str(k) for k in Ks])
    ax.set_xlabel("trained layers K")
    ax.set_ylabel("MSE / Bayes")
    ax.set_title(f"{CASE_TITLES[case]}: trained networks, L = {int(g['L'].iloc[0])}", fontsize=9)
    ax.legend(fontsize=6)


def plot_noisy_context(table, summary, illustration, out_pdf, out_png, trained=None) -> None:
    """The noisy-context figure from noisy_context{,_summary,_illustration,_trained}.parquet."""
    tab, summ, ill = read_table(table), read_table(summary), read_table(illustration)
    tr = read_table(trained) if trained is not None else None
    cases = [c for c in CASE_TITLES if c in set(tab["case"])]
    tr_cases = [c for c in CASE_TITLES if tr is not None and "estimator" in tr and c in set(tr["case"])]
    ncol = max(3, len(cases), len(tr_cases))
    rows = 5 if tr_cases else 4
    fig, axes = plt.subplots(rows, ncol, figsize=(4.2 * ncol, 3.5 * rows), squeeze=False)
    for j, case in enumerate(cases):
        _k_panel(axes[0, j], tab, case)
        _sweep_panel(axes[1, j], summ, case, "sigma", "sigma_z2")
        _sweep_panel(axes[2, j], summ, case, "L", "L")
    for j in range(len(cases), ncol):
        for i in range(3):
            axes[i, j].axis("off")
    _horizon_panel(axes[3, 0], summ)
    gs = axes[3, 1].get_gridspec()
    for ax in axes[3, 1:]:
        ax.remove()
    _illustration_panel(fig.add_subplot(gs[3, 1:]), ill)
    if tr_cases:
        for j in range(ncol):
            if j < len(tr_cases):
                _trained_panel(axes[4, j], tr, tr_cases[j])
            else:
                axes[4, j].axis("off")
    fig.tight_layout()
    save_figure(fig, out_pdf, out_png)
