# Trained depth (depth, beyond the paper): K-layer attention on the query stream against one layer, the Hopfield
# K-step iteration, the best polynomial of S and Bayes, on the same fresh prompts.
# Opt-in: snakemake depth --cores 2 builds it alone; with depth.enabled: true it joins rule all and its rows join
# the claims table (snakemake --config depth__enabled=true).

DP = config["depth"]


if enabled("depth"):
    FINAL_TARGETS.extend(
        [
            f"{RESULTS}/figures/fig_depth.pdf",
            f"{RESULTS}/figures/fig_depth.png",
        ]
    )


rule depth:
    """The whole depth study (opt-in): its figure and tables."""
    input:
        f"{RESULTS}/figures/fig_depth.pdf",
        f"{RESULTS}/figures/fig_depth.png",
        f"{RESULTS}/tables/depth.parquet",
        f"{RESULTS}/tables/depth_runs.parquet",
        f"{RESULTS}/tables/depth_layers.parquet",


rule train_depth:
    """One (case, family, L): every (K, tied, seed) and the one-layer reference, batched, then every estimator on fresh prompts."""
    output:
        summary=f"{RESULTS}/evaluations/depth/{{case}}/{{family}}/L{{L}}_summary.parquet",
        runs=f"{RESULTS}/evaluations/depth/{{case}}/{{family}}/L{{L}}_runs.parquet",
        layers=f"{RESULTS}/evaluations/depth/{{case}}/{{family}}/L{{L}}_layers.parquet",
    log:
        f"{RESULTS}/logs/train_depth/{{case}}_{{family}}_L{{L}}.log",
    wildcard_constraints:
        family="linear|softmax",
        L=r"\d+",
    # softmax jobs first (they cost several times a linear job), so that no long job starts last
    priority: lambda wildcards: 10 if wildcards.family == "softmax" else 0
    conda:
        "../../envs/train.yaml"
    threads: DP["threads"]
    resources:
        gpu=gpu_tokens(),
    params:
        runs=lambda w: run_params(depth_plan(w.case, w.family, int(w.L))),
        fresh_prompts=DP["fresh_prompts"],
        fit_prompts=DP["fit_prompts"],
        fresh_seed=lambda w: seed_for("depth_fresh", w.case, int(w.L)),
        fit_seed=lambda w: seed_for("depth_fit", w.case, int(w.L)),
        gamma_fracs=DP["gamma_fracs"],
        code=code_fingerprint("train_depth"),
    script:
        "../scripts/train_depth.py"


rule gather_depth:
    """The depth tables: per estimator (depth), per run (depth_runs) and per layer (depth_layers)."""
    input:
        summary=depth_files("summary"),
        runs=depth_files("runs"),
        layers=depth_files("layers"),
    output:
        summary=f"{RESULTS}/tables/depth.parquet",
        runs=f"{RESULTS}/tables/depth_runs.parquet",
        layers=f"{RESULTS}/tables/depth_layers.parquet",
    log:
        f"{RESULTS}/logs/gather_depth.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        code=code_fingerprint("gather_depth"),
    script:
        "../scripts/gather_depth.py"


rule plot_depth:
    """MSE / Bayes against K per case (tied, untied, Hopfield, polynomial); gain against L; learned λ, α, β per layer."""
    input:
        summary=f"{RESULTS}/tables/depth.parquet",
        layers=f"{RESULTS}/tables/depth_layers.parquet",
    output:
        pdf=report(
            f"{RESULTS}/figures/fig_depth.pdf",
            caption="../report/depth.rst",
            category=report_category("depth"),
        ),
        png=f"{RESULTS}/figures/fig_depth.png",
    log:
        f"{RESULTS}/logs/plot_depth.log",
    conda:
        "../../envs/plot.yaml"
    params:
        code=code_fingerprint("plot_depth"),
    script:
        "../scripts/plot_depth.py"
