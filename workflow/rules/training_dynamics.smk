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
    """Sample n_train + n_test prompts of one case from one data seed (numpy, no torch)."""
    output:
        f"{RESULTS}/data/{{case}}/seed{{seed}}.npz",
    log:
        f"{RESULTS}/logs/sample_prompts/{{case}}_seed{{seed}}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        params=lambda w: case_params(w.case),
        n=config["n"],
        L=config["L"],
        num_prompts=config["n_train"] + config["n_test"],
        seed=lambda w: seed_for("data", w.case, w.seed),
    script:
        "../scripts/sample_prompts.py"


rule train:
    """Train one attention model (Figure 3): one job per (case, model, seed)."""
    input:
        data=data_file,
    output:
        run=f"{RESULTS}/runs/fig3/{{case}}/{{model}}/seed{{seed}}.npz",
    log:
        f"{RESULTS}/logs/train/{{case}}_{{model}}_seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{case}}_{{model}}_seed{{seed}}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        gpu=gpu_tokens(),
    params:
        epochs=lambda w: config["cases"][w.case]["epochs"],
        n_train=config["n_train"],
        train_settings=TRAIN_SETTINGS,
        train_seed=lambda w: seed_for("train", w.case, w.model, w.seed),
    script:
        "../scripts/train.py"


rule evaluate_baselines:
    """Oracle estimators (zero, Bayes, projection, GMM sigma0->0) on one dataset and fresh prompts."""
    input:
        data=f"{RESULTS}/data/{{case}}/seed{{seed}}.npz",
    output:
        f"{RESULTS}/evaluations/baselines/{{case}}/seed{{seed}}.parquet",
    log:
        f"{RESULTS}/logs/evaluate_baselines/{{case}}_seed{{seed}}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        n_train=config["n_train"],
        fresh_prompts=TD["baseline_fresh_prompts"],
        fresh_seed=lambda w: seed_for("baselines_fresh", w.case, w.seed),
    script:
        "../scripts/evaluate_baselines.py"


rule gather_training_dynamics:
    """Figure 3 tables: training curves, final weights, weight matrices, baselines, run metadata."""
    input:
        runs=fig3_runs(),
        baselines=fig3_baselines(),
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
        pdf=report(
            f"{RESULTS}/figures/fig3.pdf",
            caption="../report/training_dynamics.rst",
            category="Figure 3",
        ),
        png=f"{RESULTS}/figures/fig3.png",
    log:
        f"{RESULTS}/logs/plot_training_dynamics.log",
    conda:
        "../../envs/plot.yaml"
    params:
        run_name=RUN_NAME,
        heatmap_seed=TD["heatmap_seed"],
    script:
        "../scripts/plot_training_dynamics.py"
