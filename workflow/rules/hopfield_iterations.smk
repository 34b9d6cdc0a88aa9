# Hopfield iterations (hopfield_iterations, beyond the paper, §4): K gradient steps of Eq. 16 from trained and heuristic weights.

HI = config["hopfield_iterations"]


if enabled("hopfield_iterations"):
    FINAL_TARGETS.extend(
        [
            f"{RESULTS}/figures/fig_hopfield_iterations.pdf",
            f"{RESULTS}/figures/fig_hopfield_iterations.png",
        ]
    )


rule hopfield_iterations:
    """Iteration study of every case (one job): MSE after K steps of Eq. 16 for each step size and starting weights."""
    input:
        [r for c in CASES for r in softmax_runs(c)],
    output:
        expand(f"{RESULTS}/evaluations/hopfield/{{case}}.parquet", case=CASES),
    log:
        f"{RESULTS}/logs/hopfield_iterations.log",
    conda:
        "../../envs/train.yaml"
    threads: HI["threads"]
    params:
        n=config["n"],
        L=config["L"],
        prompts=HI["prompts"],
        steps=HI["steps"],
        gamma_fracs=HI["gamma_fracs"],
        dtype=HI["dtype"],
        subspace_beta=config["heuristics"]["subspace_beta"],
        per_case={
            c: dict(
                out=f"{RESULTS}/evaluations/hopfield/{c}.parquet",
                run_paths=softmax_runs(c),
                case_params=case_params(c),
                rng_seed=seed_for("hopfield", c),
            )
            for c in CASES
        },
        code=code_fingerprint("hopfield_iterations"),
    script:
        "../scripts/hopfield_iterations.py"


rule gather_hopfield_iterations:
    """The iteration-study table of all cases."""
    input:
        expand(f"{RESULTS}/evaluations/hopfield/{{case}}.parquet", case=CASES),
    output:
        f"{RESULTS}/tables/hopfield_iterations.parquet",
    log:
        f"{RESULTS}/logs/gather_hopfield_iterations.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        code=code_fingerprint("gather_hopfield_iterations"),
    script:
        "../scripts/gather_hopfield_iterations.py"


rule plot_hopfield_iterations:
    """MSE against the number of Eq.-16 steps K, per case and starting weights, with Bayes and K = 0 levels."""
    input:
        iterations=f"{RESULTS}/tables/hopfield_iterations.parquet",
        baselines=f"{RESULTS}/tables/baselines.parquet",
    output:
        pdf=f"{RESULTS}/figures/fig_hopfield_iterations.pdf",
        png=report(
            f"{RESULTS}/figures/fig_hopfield_iterations.png",
            caption="../report/hopfield_iterations.rst",
            category=report_category("hopfield_iterations"),
        ),
    log:
        f"{RESULTS}/logs/plot_hopfield_iterations.log",
    conda:
        "../../envs/plot.yaml"
    params:
        run_name=RUN_NAME,
        code=code_fingerprint("plot_hopfield_iterations"),
    script:
        "../scripts/plot_hopfield_iterations.py"
