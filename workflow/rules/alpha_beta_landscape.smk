# Figure 6 (alpha_beta_landscape): alpha-beta loss landscapes of scaled-identity softmax attention (App. F), every case.

ABL = config["alpha_beta_landscape"]


if enabled("alpha_beta_landscape"):
    FINAL_TARGETS.extend(
        [
            f"{RESULTS}/figures/fig6.pdf",
            f"{RESULTS}/figures/fig6.png",
        ]
    )


rule alpha_beta_landscape:
    """Every case's 50 x 50 alpha-beta grid (one vectorised pass each, one job) and the points marked on it."""
    input:
        [r for c in CASES for r in softmax_runs(c)],
    output:
        grids=expand(
            f"{RESULTS}/evaluations/landscape/{{case}}_grid.parquet", case=CASES
        ),
        points=expand(
            f"{RESULTS}/evaluations/landscape/{{case}}_points.parquet", case=CASES
        ),
    log:
        f"{RESULTS}/logs/alpha_beta_landscape.log",
    conda:
        "../../envs/train.yaml"
    threads: ABL["threads"]
    params:
        n=config["n"],
        L=config["L"],
        prompts=ABL["prompts"],
        grid_size=ABL["grid"],
        subspace_beta=config["heuristics"]["subspace_beta"],
        per_case={
            c: dict(
                out_grid=f"{RESULTS}/evaluations/landscape/{c}_grid.parquet",
                out_points=f"{RESULTS}/evaluations/landscape/{c}_points.parquet",
                run_paths=softmax_runs(c),
                case_params=case_params(c),
                alpha_range=ABL["ranges"][c]["alpha"],
                beta_range=ABL["ranges"][c]["beta"],
                rng_seed=seed_for("landscape", c),
            )
            for c in CASES
        },
        code=code_fingerprint("alpha_beta_landscape"),
    script:
        "../scripts/alpha_beta_landscape.py"


rule gather_alpha_beta_landscape:
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
        f"{RESULTS}/logs/gather_alpha_beta_landscape.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        code=code_fingerprint("gather_alpha_beta_landscape"),
    script:
        "../scripts/gather_alpha_beta_landscape.py"


rule plot_alpha_beta_landscape:
    """Figure 6: the landscapes with heuristic, trained and minimum points."""
    input:
        grid=f"{RESULTS}/tables/landscape.parquet",
        points=f"{RESULTS}/tables/landscape_points.parquet",
    output:
        pdf=f"{RESULTS}/figures/fig6.pdf",
        png=report(
            f"{RESULTS}/figures/fig6.png",
            caption="../report/alpha_beta_landscape.rst",
            category=report_category("alpha_beta_landscape"),
        ),
    log:
        f"{RESULTS}/logs/plot_alpha_beta_landscape.log",
    conda:
        "../../envs/plot.yaml"
    params:
        run_name=RUN_NAME,
        code=code_fingerprint("plot_alpha_beta_landscape"),
    script:
        "../scripts/plot_alpha_beta_landscape.py"
