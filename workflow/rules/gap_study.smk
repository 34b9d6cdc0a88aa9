# Gap study (gap_study, beyond the paper): the gap to Bayes split into estimation (finite N) and approximation (online floor).
# Opt-in: snakemake gap_study --cores 8 --resources gpu=1 builds it alone; with gap_study.enabled: true it joins
# rule all and its rows join the claims table (snakemake --config gap_study__enabled=true).

GS = config["gap_study"]

if enabled("gap_study"):
    FINAL_TARGETS.extend(
        [
            f"{RESULTS}/figures/fig_gap_study.pdf",
            f"{RESULTS}/figures/fig_gap_study.png",
        ]
    )


rule gap_study:
    """The whole gap study (opt-in): its figure and tables."""
    input:
        f"{RESULTS}/figures/fig_gap_study.pdf",
        f"{RESULTS}/figures/fig_gap_study.png",
        f"{RESULTS}/tables/gap_study.parquet",
        f"{RESULTS}/tables/gap_study_references.parquet",
        f"{RESULTS}/tables/gap_study_summary.parquet",


rule train_gap_study:
    """One (case, model, L): every N and seed (the paper's steps) and the online runs, as batched ensembles, on fresh prompts."""
    output:
        runs=f"{RESULTS}/evaluations/gap_study/{{case}}/{{model}}/L{{L}}_runs.parquet",
        refs=f"{RESULTS}/evaluations/gap_study/{{case}}/{{model}}/L{{L}}_refs.parquet",
    log:
        f"{RESULTS}/logs/train_gap_study/{{case}}_{{model}}_L{{L}}.log",
    wildcard_constraints:
        L=r"\d+",
    # longest first (cost ~ L, plus the N sweep at gap_study.L), so that no long job starts last
    priority: lambda wildcards: int(wildcards.L) + (400 if int(wildcards.L) == GS["L"] else 0)
    conda:
        "../../envs/train.yaml"
    threads: GS["threads"]
    resources:
        gpu=gpu_tokens(),
    params:
        runs=lambda w: run_params(
            plan_runs(config, "gap_study", case=w.case, model=w.model, L=int(w.L))
        ),
        fresh_prompts=GS["fresh_prompts"],
        landscape_prompts=GS["landscape_prompts"],
        beta_bounds=lambda w: GS["scaled_identity_beta"][w.case],
        fresh_seed=lambda w: seed_for("gap_fresh", w.case, w.L),
        landscape_seed=lambda w: seed_for("gap_landscape", w.case, w.L),
        code=code_fingerprint("train_gap_study"),
    script:
        "../scripts/train_gap_study.py"


rule gather_gap_study:
    """The gap-study tables: every run, the reference levels, and the per-(case, model) split of the gap."""
    input:
        runs=gap_study_files("runs"),
        refs=gap_study_files("refs"),
    output:
        table=f"{RESULTS}/tables/gap_study.parquet",
        refs=f"{RESULTS}/tables/gap_study_references.parquet",
        summary=f"{RESULTS}/tables/gap_study_summary.parquet",
    log:
        f"{RESULTS}/logs/gather_gap_study.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        N_ref=config["n_train"],
        code=code_fingerprint("gather_gap_study"),
    script:
        "../scripts/gather_gap_study.py"


rule plot_gap_study:
    """Fresh MSE / Bayes against N with the online floor, the landscape minimum and Bayes; the online floor against L."""
    input:
        table=f"{RESULTS}/tables/gap_study.parquet",
        refs=f"{RESULTS}/tables/gap_study_references.parquet",
        summary=f"{RESULTS}/tables/gap_study_summary.parquet",
    output:
        pdf=report(
            f"{RESULTS}/figures/fig_gap_study.pdf",
            caption="../report/gap_study.rst",
            category=report_category("gap_study"),
        ),
        png=f"{RESULTS}/figures/fig_gap_study.png",
    log:
        f"{RESULTS}/logs/plot_gap_study.log",
    conda:
        "../../envs/plot.yaml"
    params:
        code=code_fingerprint("plot_gap_study"),
    script:
        "../scripts/plot_gap_study.py"
