# Figure 5 (attention step = one gradient step on the DAM energy) and the Hopfield iteration study.


rule fig5_data:
    """Figure 5 tables: energy on a grid, the circle context, Eq.-16 trajectories of noisy queries."""
    output:
        trajectories=f"{RESULTS}/tables/hopfield_trajectories.parquet",
        energy=f"{RESULTS}/tables/fig5_energy.parquet",
        context=f"{RESULTS}/tables/fig5_context.parquet",
    log:
        f"{RESULTS}/logs/fig5_data.log",
    benchmark:
        f"{RESULTS}/benchmarks/fig5_data.tsv"
    conda:
        "../../envs/train.yaml"
    params:
        settings=config["fig5"],
        rng_seed=seed_for("fig5"),
    script:
        "../scripts/fig5_data.py"


rule plot_fig5:
    """Figure 5: energy contour, context, queries, targets and trajectories after 1 and 50 steps."""
    input:
        trajectories=f"{RESULTS}/tables/hopfield_trajectories.parquet",
        energy=f"{RESULTS}/tables/fig5_energy.parquet",
        context=f"{RESULTS}/tables/fig5_context.parquet",
    output:
        pdf=report(
            f"{RESULTS}/figures/fig5.pdf",
            caption="../report/fig5.rst",
            category="Figure 5",
        ),
        png=f"{RESULTS}/figures/fig5.png",
    log:
        f"{RESULTS}/logs/plot_fig5.log",
    conda:
        "../../envs/plot.yaml"
    params:
        panels=config["fig5"]["panels"],
    script:
        "../scripts/plot_fig5.py"


rule hopfield_iterations:
    """Iteration study of one case: MSE after K steps of Eq. 16 for each step size and starting weights."""
    input:
        runs=(
            expand(
                f"{RESULTS}/runs/fig3/{{case}}/softmax/seed{{seed}}.npz",
                seed=SEEDS,
                allow_missing=True,
            )
            if "softmax" in MODELS
            else []
        ),
    output:
        f"{RESULTS}/evaluations/hopfield/{{case}}.parquet",
    log:
        f"{RESULTS}/logs/hopfield_iterations/{{case}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/hopfield_iterations/{{case}}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: config["hopfield"]["threads"]
    params:
        case_params=lambda w: {
            k: v for k, v in config["cases"][w.case].items() if k != "epochs"
        },
        n=config["n"],
        L=config["L"],
        settings=config["hopfield"],
        subspace_beta=config["heuristics"]["subspace_beta"],
        rng_seed=lambda w: seed_for("hopfield", w.case),
    script:
        "../scripts/hopfield_iterations.py"


rule gather_hopfield:
    """The iteration-study table of all cases."""
    input:
        expand(f"{RESULTS}/evaluations/hopfield/{{case}}.parquet", case=CASES),
    output:
        f"{RESULTS}/tables/hopfield_iterations.parquet",
    log:
        f"{RESULTS}/logs/gather_hopfield.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/gather_hopfield.py"


rule plot_hopfield_iterations:
    """MSE against the number of Eq.-16 steps K, per case and starting weights, with Bayes and K = 0 levels."""
    input:
        iterations=f"{RESULTS}/tables/hopfield_iterations.parquet",
        baselines=f"{RESULTS}/tables/baselines.parquet",
    output:
        pdf=report(
            f"{RESULTS}/figures/fig_hopfield_iterations.pdf",
            caption="../report/hopfield_iterations.rst",
            category="Hopfield iteration study",
        ),
        png=f"{RESULTS}/figures/fig_hopfield_iterations.png",
    log:
        f"{RESULTS}/logs/plot_hopfield_iterations.log",
    conda:
        "../../envs/plot.yaml"
    script:
        "../scripts/plot_hopfield_iterations.py"


FINAL_TARGETS.extend(
    [
        f"{RESULTS}/figures/fig5.pdf",
        f"{RESULTS}/figures/fig5.png",
        f"{RESULTS}/figures/fig_hopfield_iterations.pdf",
        f"{RESULTS}/figures/fig_hopfield_iterations.png",
    ]
)
