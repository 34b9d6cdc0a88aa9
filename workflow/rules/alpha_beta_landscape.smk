# Figure 6: alpha-beta loss landscapes of scaled-identity softmax attention (App. F), every case.


rule landscape:
    """One case's 50 x 50 alpha-beta grid (one vectorised pass) and the points marked on it."""
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
        grid=f"{RESULTS}/evaluations/landscape/{{case}}_grid.parquet",
        points=f"{RESULTS}/evaluations/landscape/{{case}}_points.parquet",
    log:
        f"{RESULTS}/logs/landscape/{{case}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/landscape/{{case}}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: config["landscape"]["threads"]
    params:
        case_params=lambda w: {
            k: v for k, v in config["cases"][w.case].items() if k != "epochs"
        },
        n=config["n"],
        L=config["L"],
        prompts=config["landscape"]["prompts"],
        grid_size=config["landscape"]["grid"],
        ranges=lambda w: config["landscape"]["ranges"][w.case],
        subspace_beta=config["heuristics"]["subspace_beta"],
        rng_seed=lambda w: seed_for("landscape", w.case),
    script:
        "../scripts/landscape.py"


rule gather_landscape:
    """The landscape grids and marked points of all cases."""
    input:
        grids=expand(
            f"{RESULTS}/evaluations/landscape/{{case}}_grid.parquet", case=CASES
        ),
        points=expand(
            f"{RESULTS}/evaluations/landscape/{{case}}_points.parquet", case=CASES
        ),
    output:
        grid=f"{RESULTS}/tables/landscape.parquet",
        points=f"{RESULTS}/tables/landscape_points.parquet",
    log:
        f"{RESULTS}/logs/gather_landscape.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/gather_landscape.py"


rule plot_fig6:
    """Figure 6: the landscapes with heuristic, trained and minimum points."""
    input:
        grid=f"{RESULTS}/tables/landscape.parquet",
        points=f"{RESULTS}/tables/landscape_points.parquet",
    output:
        pdf=report(
            f"{RESULTS}/figures/fig6.pdf",
            caption="../report/fig6.rst",
            category="Figure 6",
        ),
        png=f"{RESULTS}/figures/fig6.png",
    log:
        f"{RESULTS}/logs/plot_fig6.log",
    conda:
        "../../envs/plot.yaml"
    script:
        "../scripts/plot_fig6.py"


FINAL_TARGETS.extend(
    [
        f"{RESULTS}/figures/fig6.pdf",
        f"{RESULTS}/figures/fig6.png",
    ]
)
