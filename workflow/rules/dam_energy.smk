# Figure 5 (dam_energy): one attention step = one gradient step on the dense-associative-memory energy.

DE = config["dam_energy"]


if enabled("dam_energy"):
    FINAL_TARGETS.extend(
        [
            f"{RESULTS}/figures/fig5.pdf",
            f"{RESULTS}/figures/fig5.png",
        ]
    )


rule dam_energy_data:
    """Figure 5 tables: energy on a grid, the circle context, Eq.-16 trajectories of noisy queries."""
    output:
        trajectories=f"{RESULTS}/tables/hopfield_trajectories.parquet",
        energy=f"{RESULTS}/tables/fig5_energy.parquet",
        context=f"{RESULTS}/tables/fig5_context.parquet",
    log:
        f"{RESULTS}/logs/dam_energy_data.log",
    conda:
        "../../envs/train.yaml"
    params:
        settings={k: v for k, v in DE.items() if k != "enabled"},
        seed=seed_for("fig5"),
        code=code_fingerprint("dam_energy_data"),
    script:
        "../scripts/dam_energy_data.py"


rule plot_dam_energy:
    """Figure 5: energy contour, context, queries, targets and trajectories after 1 and 50 steps."""
    input:
        trajectories=f"{RESULTS}/tables/hopfield_trajectories.parquet",
        energy=f"{RESULTS}/tables/fig5_energy.parquet",
        context=f"{RESULTS}/tables/fig5_context.parquet",
    output:
        pdf=f"{RESULTS}/figures/fig5.pdf",
        png=report(
            f"{RESULTS}/figures/fig5.png",
            caption="../report/dam_energy.rst",
            category=report_category("dam_energy"),
        ),
    log:
        f"{RESULTS}/logs/plot_dam_energy.log",
    conda:
        "../../envs/plot.yaml"
    params:
        run_name=RUN_NAME,
        panels=DE["panels"],
        code=code_fingerprint("plot_dam_energy"),
    script:
        "../scripts/plot_dam_energy.py"
