"""Hopfield iterations (hopfield_iterations, beyond the paper, §4): MSE after K steps of Eq. 16 against K.

One column per case, one row per kind of starting weights.
"""

from __future__ import annotations

from ..io import read_table
from ..studies.hopfield_iterations import MATRIX_START, best_settings
from . import CASE_TITLES, ESTIMATOR_STYLE, baseline_level, plt, save_figure

GAMMA_COLORS = ["tab:blue", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:olive"]
ROWS = (
    ("heuristic", "heuristic weights (scaled identity)"),
    ("trained_mean", r"trained: seed mean of $|\alpha|$, $|\beta|$ (scaled identity)"),
    (MATRIX_START, "trained: each seed's $W_{KQ}$, $W_{PV}$ (seed mean, min-max band)"),
)
POINT_LS = {"heuristic": "-", "heuristic_prop4": "--"}


def _row_of(point: str) -> str:
    return "heuristic" if point.startswith("heuristic") else point


def _gamma_label(frac: float) -> str:
    return r"$\gamma = \alpha$" if frac == 1.0 else rf"$\gamma = {frac:g}\,\alpha$"


def _verdict(b) -> str:
    is_one = int(b["K"]) == 1 and float(b["gamma_over_alpha"]) == 1.0
    if is_one:
        return "one step is best"
    if b["one_step_best"]:
        return "one step within 2 SE of it"
    return f"beats one step by {b['gain']:.2g} ± {b['gain_se']:.1g}"


def _panel(ax, sub, case, baselines, Ks, fracs, best):
    xpos = {K: i for i, K in enumerate(Ks)}
    for point, ps in sub.groupby("point", sort=False):
        for j, f in enumerate(fracs):
            s = ps[ps["gamma_over_alpha"] == f].groupby("K")["mse"]
            mean, lo, hi = s.mean(), s.min(), s.max()
            x = [xpos[k] for k in mean.index]
            color = GAMMA_COLORS[j % len(GAMMA_COLORS)]
            ax.plot(x, mean.values, POINT_LS.get(point, "-"), marker="o", ms=3, color=color, lw=1.3)
            if ps["seed"].nunique() > 1:
                ax.fill_between(x, lo.values, hi.values, color=color, alpha=0.15, lw=0)
        b = best[(best["case"] == case) & (best["point"] == point)]
        if len(b):
            b = b.iloc[0]
            ax.scatter(
                [xpos[int(b["K"])]],
                [b["mse"]],
                marker="*",
                s=150,
                c="gold",
                edgecolors="black",
                linewidths=0.7,
                zorder=6,
            )
    k0 = sub[sub["K"] == 0]["mse"].mean()
    ax.axhline(k0, color="0.45", ls=":", lw=1.1)
    ax.text(len(Ks) - 1, k0, f"K = 0: {k0:.4f}", fontsize=6.5, color="0.3", ha="right", va="bottom")
    level = baseline_level(baselines, case, "bayes")
    lows = [float(sub["mse"].min())]
    if level is not None:
        st = ESTIMATOR_STYLE["bayes"]
        ax.axhline(level, color=st["color"], ls=st["ls"], lw=1.1)
        ax.text(len(Ks) - 1, level, f"Bayes {level:.4f}", fontsize=6.5, ha="right", va="bottom")
        lows.append(level)
    ax.set_yscale("log")
    top = float(sub["mse"].max())
    ax.set_ylim(min(lows) / 1.6, top * 1.15)  # room under the Bayes line for the verdict box
    ax.set_xticks(range(len(Ks)))
    ax.set_xticklabels([str(k) for k in Ks])
    ax.set_xlabel("gradient steps K (Eq. 16) from the noisy query")
    ax.set_ylabel("MSE per component")
    lines = []
    for point in sub["point"].unique():
        b = best[(best["case"] == case) & (best["point"] == point)]
        if len(b):
            b = b.iloc[0]
            name = "" if point == MATRIX_START else f"{point}: "
            lines.append(f"{name}best K={int(b['K'])}, γ={b['gamma_over_alpha']:g}α, MSE {b['mse']:.4f}; {_verdict(b)}")
    ax.text(
        0.02,
        0.02,
        "\n".join(lines),
        transform=ax.transAxes,
        fontsize=6.5,
        va="bottom",
        bbox=dict(fc="white", ec="0.7", alpha=0.9),
    )


def _legend(fig, fracs, has_prop4):
    from matplotlib.lines import Line2D

    h = [
        Line2D([], [], color=GAMMA_COLORS[j % len(GAMMA_COLORS)], marker="o", ms=3, lw=1.3, label=_gamma_label(f))
        for j, f in enumerate(fracs)
    ]
    if has_prop4:
        h.append(
            Line2D([], [], color="0.3", ls="--", lw=1.3, label=r"Prop. 4 heuristic $\beta = 1/(\sigma_0^2+\sigma_Z^2)$")
        )
    h += [
        Line2D([], [], marker="*", ms=11, ls="", mfc="gold", mec="black", label=r"best (K, $\gamma$)"),
        Line2D([], [], color="0.45", ls=":", lw=1.1, label="K = 0: the noisy query"),
        Line2D([], [], color="black", ls="--", lw=1.1, label="Bayes optimal"),
    ]
    fig.legend(handles=h, loc="upper center", ncol=len(h), frameon=False, bbox_to_anchor=(0.5, 0.985))


def verdict_lines(best) -> list[str]:
    """One line per case: is one step with γ = α best (within 2 paired SE) for every start?"""
    out = []
    order = {c: i for i, c in enumerate(CASE_TITLES)}
    for case, sub in sorted(best.groupby("case", sort=False), key=lambda kv: order.get(kv[0], len(order))):
        ok = bool(sub["one_step_best"].all())
        bests = ", ".join(f"{r.point} K={r.K}, γ={r.gamma_over_alpha:g}α" for r in sub.itertuples())
        verdict = "best or within 2 paired SE of the best" if ok else "NOT best"
        bad = "" if ok else " (significantly beaten for: " + ", ".join(sub[~sub["one_step_best"]]["point"]) + ")"
        out.append(f"{case}: one step with γ = α is {verdict} for every start{bad}. Best: {bests}")
    return out


def plot_hopfield_iterations(iterations, baselines, out_pdf, out_png, run_name: str | None = None) -> None:
    """The iteration-study figure from hopfield_iterations.parquet and baselines.parquet."""
    tab = read_table(
        iterations,
        [
            "case",
            "point",
            "seed",
            "weights",
            "gamma_over_alpha",
            "K",
            "mse",
            "delta_vs_one_step",
            "delta_se",
            "num_prompts",
        ],
    )
    baselines = read_table(baselines, ["case", "estimator", "split", "mse"])
    best = best_settings(tab)
    cases = [c for c in CASE_TITLES if c in set(tab["case"])]
    rows = [(r, title) for r, title in ROWS if (tab["point"].map(_row_of) == r).any()]
    Ks = sorted(int(k) for k in tab["K"].unique())
    fracs = sorted(float(f) for f in tab["gamma_over_alpha"].unique())
    fig, axes = plt.subplots(len(rows), len(cases), figsize=(4.9 * len(cases), 3.5 * len(rows)), squeeze=False)
    for i, (row, title) in enumerate(rows):
        for j, case in enumerate(cases):
            sub = tab[(tab["case"] == case) & (tab["point"].map(_row_of) == row)]
            ax = axes[i, j]
            if sub.empty:
                ax.set_axis_off()
                continue
            _panel(ax, sub, case, baselines, Ks, fracs, best)
            ax.set_title(f"{CASE_TITLES.get(case, case)}\n{title}")
    n_prompts = int(tab["num_prompts"].iloc[0])
    fig.suptitle(
        f"Hopfield iteration study: Eq. 16 from $s(0) = \\tilde x$, {n_prompts} fresh prompts per case", y=1.01
    )
    _legend(fig, fracs, (tab["point"] == "heuristic_prop4").any())
    fig.tight_layout(rect=(0, 0, 1, 0.965))
    fig.text(0.01, -0.005, "\n".join(verdict_lines(best)), fontsize=8, va="top", ha="left")
    save_figure(fig, out_pdf, out_png, run_name=run_name)
