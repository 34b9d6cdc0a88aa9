# Figure 3 (training_dynamics): sample the prompts, train every (case, model, seed), evaluate the
# oracles, gather the tables, draw the figure.

TD = config["training_dynamics"]


if enabled("training_dynamics"):
    FINAL_TARGETS.extend(
        [
            f"{RESULTS}/figures/fig3.pdf",
            f"{RESULTS}/figures/fig3.png",
        ]
    )


rule sample_prompts:
    """The datasets of every case: n_train + n_test prompts per data seed (numpy, no torch; one job)."""
    output:
        [f for c in CASES for f in data_files(c)],
    log:
        f"{RESULTS}/logs/sample_prompts.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        n=config["n"],
        L=config["L"],
        num_prompts=config["n_train"] + config["n_test"],
        per_case={
            c: dict(
                params=case_params(c),
                rng_seeds=fig3_data_seeds(c),
                out_paths=data_files(c),
            )
            for c in CASES
        },
        code=code_fingerprint("sample_prompts"),
    script:
        "../scripts/sample_prompts.py"


rule train:
    """Figure 3 training of one case: every (model, seed) run as one batched ensemble, one file per run."""
    input:
        data=lambda w: data_files(w.case),
    output:
        runs=fig3_runs("{case}"),
    log:
        f"{RESULTS}/logs/train/{{case}}.log",
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        gpu=gpu_tokens(),
    params:
        runs=lambda w: run_params(fig3_plan(w.case)),
        code=code_fingerprint("train"),
    script:
        "../scripts/train.py"


rule evaluate_baselines:
    """Oracle estimators (zero, Bayes, projection, GMM sigma0->0) of every case on its datasets and fresh prompts."""
    input:
        [f for c in CASES for f in data_files(c)],
    output:
        expand(f"{RESULTS}/evaluations/baselines/{{case}}.parquet", case=CASES),
    log:
        f"{RESULTS}/logs/evaluate_baselines.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        data_seeds=data_seeds(),
        n_train=config["n_train"],
        fresh_prompts=TD["baseline_fresh_prompts"],
        per_case={
            c: dict(
                data_paths=data_files(c),
                out=f"{RESULTS}/evaluations/baselines/{c}.parquet",
                fresh_seeds=[baseline_seed(config, c, s) for s in data_seeds()],
            )
            for c in CASES
        },
        code=code_fingerprint("evaluate_baselines"),
    script:
        "../scripts/evaluate_baselines.py"


rule gather_training_dynamics:
    """Figure 3 tables: training curves, final weights, weight matrices, baselines, run metadata."""
    input:
        runs=[r for c in CASES for r in fig3_runs(c)],
        baselines=expand(
            f"{RESULTS}/evaluations/baselines/{{case}}.parquet", case=CASES
        ),
    output:
        curves=f"{RESULTS}/tables/training_curves.parquet",
        weights=f"{RESULTS}/tables/trained_weights.parquet",
        matrices=f"{RESULTS}/tables/trained_matrices.parquet",
        baselines=f"{RESULTS}/tables/baselines.parquet",
        meta=f"{RESULTS}/tables/run_metadata.parquet",
    log:
        f"{RESULTS}/logs/gather_training_dynamics.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        code=code_fingerprint("gather_training_dynamics"),
    script:
        "../scripts/gather_training_dynamics.py"


rule plot_training_dynamics:
    """Figure 3: training dynamics and final weights, from tables only."""
    input:
        curves=f"{RESULTS}/tables/training_curves.parquet",
        matrices=f"{RESULTS}/tables/trained_matrices.parquet",
        weights=f"{RESULTS}/tables/trained_weights.parquet",
        baselines=f"{RESULTS}/tables/baselines.parquet",
    output:
        pdf=f"{RESULTS}/figures/fig3.pdf",
        png=report(
            f"{RESULTS}/figures/fig3.png",
            caption="../report/training_dynamics.rst",
            category=report_category("training_dynamics"),
        ),
    log:
        f"{RESULTS}/logs/plot_training_dynamics.log",
    conda:
        "../../envs/plot.yaml"
    params:
        run_name=RUN_NAME,
        heatmap_seed=TD["heatmap_seed"],
        code=code_fingerprint("plot_training_dynamics"),
    script:
        "../scripts/plot_training_dynamics.py"
