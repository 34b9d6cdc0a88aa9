"""One module per study figure (named after its study); each reads parquet tables only and writes PDF + PNG.

Shared style and helpers live here. matplotlib is imported with the Agg backend (no display).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from ..io import atomic_output  # noqa: E402

MODEL_COLORS = {"linear": "tab:blue", "softmax": "tab:orange"}
CASE_TITLES = {
    "subspace": "Case 1: linear subspaces",
    "sphere": "Case 2: spheres",
    "gmm": "Case 3: Gaussian mixtures",
}
ESTIMATOR_STYLE = {
    "zero": dict(color="0.45", ls=":", label="zero predictor"),
    "bayes": dict(color="black", ls="--", label="Bayes optimal"),
    "bayes_sigma0_to_0": dict(color="tab:purple", ls="-.", label=r"Bayes, $\sigma_0\to 0$ form"),
    "projection": dict(color="tab:green", ls=":", label="projection (oracle)"),
}

plt.rcParams.update(
    {
        "figure.dpi": 110,
        "savefig.dpi": 150,
        "font.size": 9,
        "axes.titlesize": 9.5,
        "axes.labelsize": 9,
        "legend.fontsize": 7.5,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)


def save_figure(fig, out_pdf: str | Path, out_png: str | Path, run_name: str | None = None) -> None:
    """Write the figure to PDF and PNG atomically (deterministic PDF: no creation date).

    ``run_name``: the config that made the figure, stamped in its top-right corner.
    """
    if run_name:
        fig.text(1.0, 1.0, f"config: {run_name}", ha="right", va="bottom", fontsize=7, color="0.35")
    with atomic_output(out_pdf, suffix=".pdf") as tmp:
        fig.savefig(tmp, format="pdf", bbox_inches="tight", metadata={"CreationDate": None})
    with atomic_output(out_png, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)


def baseline_level(baselines, case: str, estimator: str) -> float | None:
    """Expected MSE of an oracle: the closed form if there is one, else the mean over fresh-prompt runs."""
    sub = baselines[(baselines["case"] == case) & (baselines["estimator"] == estimator)]
    for split in ("theory", "fresh"):
        vals = sub[sub["split"] == split]["mse"]
        if len(vals):
            return float(vals.mean())
    return None


def seed_stats(df, by, col):
    """Mean, min and max of ``col`` over seeds, indexed by ``by``."""
    g = df.groupby(by)[col]
    return g.mean(), g.min(), g.max()
