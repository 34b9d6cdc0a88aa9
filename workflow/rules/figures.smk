rule plot_fig3:
    """Figure 3: training dynamics and final weights, from tables only."""
    input:
        curves=f"{RESULTS}/tables/training_curves.parquet",
        matrices=f"{RESULTS}/tables/trained_matrices.parquet",
        weights=f"{RESULTS}/tables/trained_weights.parquet",
        baselines=f"{RESULTS}/tables/baselines.parquet",
    output:
        pdf=report(
            f"{RESULTS}/figures/fig3.pdf",
            caption="../report/fig3.rst",
            category="Figure 3",
        ),
        png=f"{RESULTS}/figures/fig3.png",
    log:
        f"{RESULTS}/logs/plot_fig3.log",
    conda:
        "../../envs/plot.yaml"
    params:
        heatmap_seed=config["figures"]["heatmap_seed"],
    script:
        "../scripts/plot_fig3.py"
