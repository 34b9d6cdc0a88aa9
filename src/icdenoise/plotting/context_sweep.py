"""Figure 4a (context_sweep): final MSE and αβ against the training context length L (case 1), from tables only."""

from __future__ import annotations

from ..io import read_table
from . import ESTIMATOR_STYLE, MODEL_COLORS, plt, save_figure, seed_stats

MODEL_TITLES = {"linear": "linear attention (Eq. 11)", "softmax": "softmax attention (Eq. 12, not in the paper)"}


def _mse_vs_L(ax, table, theory, model):
    sub = table[table["model"] == model]
    color = MODEL_COLORS.get(model, "tab:gray")
    Lt = theory["L"].to_numpy()
    which = "" if model == "linear" else " of linear attention"
    ax.plot(
        Lt,
        theory["finite_L_mse"],
        color="tab:red",
        lw=1.3,
        label=rf"finite-$L$ optimum{which}: $\hat x = \gamma^*(L)\,XX^\top\tilde x/L$",
    )
    bayes = float(theory["bayes_mse"].iloc[0])
    st = ESTIMATOR_STYLE["bayes"]
    ax.axhline(bayes, color=st["color"], ls=st["ls"], lw=1.1, label=f"Bayes optimal ({bayes:.4f})")
    for col, ls, marker, label in (
        ("test_mse", "-", "o", "test (200 held-out prompts)"),
        ("fresh_mse", ":", "s", "fresh prompts (expected MSE)"),
        ("train_mse", "--", "^", "train (800 prompts)"),
    ):
        if sub[col].isna().all():
            continue
        mean, lo, hi = seed_stats(sub, "L", col)
        ax.plot(mean.index, mean.values, color=color, ls=ls, marker=marker, ms=3.2, lw=1.2, label=label)
        ax.fill_between(mean.index, lo.values, hi.values, color=color, alpha=0.15, lw=0)
    ax.set_xlabel("context length $L$ (clean tokens) during training")
    ax.set_ylabel(r"final MSE per component $\|\hat x - x\|^2/n$")
    ax.set_title(f"Case 1, {MODEL_TITLES.get(model, model)}")
    ax.legend(loc="upper right", frameon=False)


def _alpha_beta_vs_L(ax, table, theory):
    Lt = theory["L"].to_numpy()
    ax.plot(
        Lt, theory["gamma_star"], color="tab:red", lw=1.3, label=r"$\gamma^*(L) = L/((\sigma_0^2+\sigma_Z^2)(L+d+1))$"
    )
    limit = 1.0 / (float(theory["sigma0_2"].iloc[0]) + float(theory["sigma_z2"].iloc[0]))
    ax.axhline(limit, color="black", ls="--", lw=1.1, label=rf"$L\to\infty$: $1/(\sigma_0^2+\sigma_Z^2)$ = {limit:.4g}")
    notes = []
    for model in [m for m in MODEL_COLORS if m in set(table["model"])]:
        sub = table[table["model"] == model]
        mean, lo, hi = seed_stats(sub, "L", "alpha_beta")
        color = MODEL_COLORS[model]
        ax.plot(
            mean.index, mean.values, color=color, marker="o", ms=3.2, lw=1.2, label=f"{model}: final $\\alpha\\beta$"
        )
        ax.fill_between(mean.index, lo.values, hi.values, color=color, alpha=0.18, lw=0)
        notes.append(
            f"{model}: $\\alpha\\beta$ = {mean.iloc[0]:.3f} at L={mean.index[0]}, "
            f"{mean.iloc[-1]:.3f} at L={mean.index[-1]}"
        )
    g = theory.set_index("L")["gamma_star"]
    Lmin, Lmax = int(table["L"].min()), int(table["L"].max())
    notes.append(f"$\\gamma^*$ = {g.loc[Lmin]:.3f} at L={Lmin}, {g.loc[Lmax]:.3f} at L={Lmax}")
    ax.text(0.98, 0.04, "\n".join(notes), transform=ax.transAxes, ha="right", va="bottom", fontsize=7)
    ax.set_xlabel("context length $L$ (clean tokens) during training")
    ax.set_ylabel(r"$\alpha\beta$ = mean diag$(W_{PV})\cdot$mean diag$(W_{KQ})$")
    ax.set_title(r"Weight scale $\alpha\beta$ (seed mean, min-max band)")
    ax.legend(loc="center right", frameon=False)


def plot_context_sweep(table, theory, out_pdf, out_png, run_name: str | None = None) -> None:
    """Figure 4a from context_sweep.parquet and context_sweep_theory.parquet."""
    table = read_table(table, ["model", "L", "seed", "train_mse", "test_mse", "fresh_mse", "alpha_beta"])
    theory = read_table(theory, ["L", "gamma_star", "finite_L_mse", "bayes_mse", "sigma0_2", "sigma_z2"])
    models = [m for m in MODEL_COLORS if m in set(table["model"])]
    fig, axes = plt.subplots(1, len(models) + 1, figsize=(4.6 * (len(models) + 1), 4.0), squeeze=False)
    axes = axes[0]
    for ax, model in zip(axes[: len(models)], models, strict=True):
        _mse_vs_L(ax, table, theory, model)
    # one y range for the MSE panels, so the models compare at a glance
    lo = min(ax.get_ylim()[0] for ax in axes[: len(models)])
    hi = max(ax.get_ylim()[1] for ax in axes[: len(models)])
    for ax in axes[: len(models)]:
        ax.set_ylim(lo, hi)
    _alpha_beta_vs_L(axes[-1], table, theory)
    seeds = sorted(set(table["seed"]))
    r = theory.iloc[0]
    fig.suptitle(
        f"Figure 4a: effect of the training context length (case 1: n={int(r['n'])}, d={int(r['d'])}, "
        f"$\\sigma_0^2$={r['sigma0_2']:g}, $\\sigma_Z^2$={r['sigma_z2']:g}; "
        f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''}: mean, min-max band; "
        "final epoch, not the minimum over training)",
        y=1.0,
    )
    fig.tight_layout()
    save_figure(fig, out_pdf, out_png, run_name=run_name)
