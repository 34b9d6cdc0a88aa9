# Noisy context (noisy_context, beyond the paper): every token noisy (the 2026 follow-up), one step against the two-stage estimator.
# Opt-in: snakemake noisy_context --cores 2 builds it alone; with noisy_context.enabled: true it joins rule all
# and its rows join the claims table (snakemake --config noisy_context__enabled=true).

NC = config["noisy_context"]
NC_CASES = [c for c in NC["cases"] if c in CASES]
NC_TRAINED = NC["trained"]
NC_TRAINED_CASES = [c for c in NC_TRAINED["cases"] if c in CASES]

if enabled("noisy_context"):
    FINAL_TARGETS.extend(
        [
            f"{RESULTS}/figures/fig_noisy_context.pdf",
            f"{RESULTS}/figures/fig_noisy_context.png",
        ]
    )


rule noisy_context:
    """The whole noisy-context study (opt-in): its figure and tables."""
    input:
        f"{RESULTS}/figures/fig_noisy_context.pdf",
        f"{RESULTS}/figures/fig_noisy_context.png",
        f"{RESULTS}/tables/noisy_context.parquet",
        f"{RESULTS}/tables/noisy_context_summary.parquet",
        f"{RESULTS}/tables/noisy_context_illustration.parquet",
        f"{RESULTS}/tables/noisy_context_trained.parquet",


rule evaluate_noisy_context:
    """One case: Bayes, one step, the best scaled kernel and the two-stage (h, eta, K) grid on shared fresh noisy prompts."""
    output:
        f"{RESULTS}/evaluations/noisy_context/{{case}}.parquet",
    log:
        f"{RESULTS}/logs/evaluate_noisy_context/{{case}}.log",
    conda:
        "../../envs/train.yaml"
    threads: NC["threads"]
    params:
        case_params=lambda w: case_params(w.case),
        n=config["n"],
        L=NC["L"],
        sigma_z2_factors=NC["sigma_z2_factors"],
        sigma_c2_factor=NC["sigma_c2_factor"],
        hs=NC["h_factors"],
        etas=NC["etas"],
        K_max=NC["K_max"],
        prompts=NC["prompts"],
        fit_prompts=NC["fit_prompts"],
        L_sweep=NC["L_sweep"],
        L_prompts=NC["L_prompts"],
        L_K_max=NC["L_K_max"],
        beta_bounds=NC["beta_factors"],
        rng_seed=lambda w: seed_for("noisy_context", w.case),
        code=code_fingerprint("evaluate_noisy_context"),
    script:
        "../scripts/evaluate_noisy_context.py"


rule train_noisy_context:
    """One case: every (K, skip, seed) network trained on noisy-context prompts, then evaluated with Bayes, one step, the best scaled kernel and the best two-stage point on shared fresh prompts."""
    output:
        f"{RESULTS}/evaluations/noisy_context/trained/{{case}}.parquet",
    log:
        f"{RESULTS}/logs/train_noisy_context/{{case}}.log",
    conda:
        "../../envs/train.yaml"
    threads: NC["threads"]
    resources:
        gpu=gpu_tokens(),
    params:
        runs=lambda w: run_params(plan_runs(config, "noisy_context", case=w.case)),
        sigma_z2=lambda w: config["cases"][w.case]["sigma_z2"],
        sigma_c2=lambda w: NC["sigma_c2_factor"] * config["cases"][w.case]["sigma_z2"],
        fresh_prompts=NC_TRAINED["fresh_prompts"],
        fit_prompts=NC_TRAINED["fit_prompts"],
        hs=NC["h_factors"],
        etas=NC["etas"],
        K_max=NC["K_max"],
        beta_bounds=NC["beta_factors"],
        rng_seed=lambda w: seed_for("noisy_context_trained", w.case, NC_TRAINED["L"]),
        code=code_fingerprint("train_noisy_context"),
    script:
        "../scripts/train_noisy_context.py"


rule gather_noisy_context_trained:
    """The trained networks' table: per case, K, skip and seed, and the references at the trained L."""
    input:
        expand(
            f"{RESULTS}/evaluations/noisy_context/trained/{{case}}.parquet",
            case=NC_TRAINED_CASES,
        ),
    output:
        f"{RESULTS}/tables/noisy_context_trained.parquet",
    log:
        f"{RESULTS}/logs/gather_noisy_context_trained.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        code=code_fingerprint("gather_noisy_context_trained"),
    script:
        "../scripts/gather_noisy_context_trained.py"


rule gather_noisy_context:
    """The noisy-context tables: every estimator and grid point, the per-point summary, the 1-D illustration."""
    input:
        expand(f"{RESULTS}/evaluations/noisy_context/{{case}}.parquet", case=NC_CASES),
    output:
        table=f"{RESULTS}/tables/noisy_context.parquet",
        summary=f"{RESULTS}/tables/noisy_context_summary.parquet",
        illustration=f"{RESULTS}/tables/noisy_context_illustration.parquet",
    log:
        f"{RESULTS}/logs/gather_noisy_context.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        illustration_settings=NC["illustration"],
        seed=seed_for("noisy_context_illustration"),
        code=code_fingerprint("gather_noisy_context"),
    script:
        "../scripts/gather_noisy_context.py"


rule plot_noisy_context:
    """MSE / Bayes against K, sigma_z2 and L; the best horizon K*eta against sigma_z2; the 1-D particles; trained networks against K."""
    input:
        table=f"{RESULTS}/tables/noisy_context.parquet",
        summary=f"{RESULTS}/tables/noisy_context_summary.parquet",
        illustration=f"{RESULTS}/tables/noisy_context_illustration.parquet",
        trained=f"{RESULTS}/tables/noisy_context_trained.parquet",
    output:
        pdf=report(
            f"{RESULTS}/figures/fig_noisy_context.pdf",
            caption="../report/noisy_context.rst",
            category=report_category("noisy_context"),
        ),
        png=f"{RESULTS}/figures/fig_noisy_context.png",
    log:
        f"{RESULTS}/logs/plot_noisy_context.log",
    conda:
        "../../envs/plot.yaml"
    params:
        code=code_fingerprint("plot_noisy_context"),
    script:
        "../scripts/plot_noisy_context.py"
