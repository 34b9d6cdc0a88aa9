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
        fresh_prompts=config["baselines"]["fresh_prompts"],
        fresh_seed=lambda w: seed_for("baselines_fresh", w.case, w.seed),
    script:
        "../scripts/evaluate_baselines.py"


rule gather_fig3:
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
        f"{RESULTS}/logs/gather_fig3.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/gather_fig3.py"
