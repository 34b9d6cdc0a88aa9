# Figure 4b (dim_shift): a model trained at one task setting, evaluated with the subspace dimension d (sphere
# dimension d, number of centres p) shifted at inference time, for several context lengths L.
# subspace: linear attention trained here (constant lr, as the authors did);
# sphere, gmm: the Figure 3 softmax runs are reused (same weights as Figure 3, no extra training).

DS = config["dim_shift"]
DS_CASES = [c for c in ("subspace", "sphere", "gmm") if c in DS["cases"]]


if enabled("dim_shift"):
    FINAL_TARGETS.extend(
        [
            f"{RESULTS}/figures/fig4b.pdf",
            f"{RESULTS}/figures/fig4b.png",
        ]
    )


rule train_dim_shift:
    """Figure 4b models: linear attention, each seed on its own subspace dataset, one batched ensemble."""
    output:
        runs=dim_shift_runs("subspace"),
    log:
        f"{RESULTS}/logs/train_dim_shift/subspace_linear.log",
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        gpu=gpu_tokens(),
    params:
        runs=run_params(plan_runs(config, "dim_shift")),
        code=code_fingerprint("train_dim_shift"),
    script:
        "../scripts/train_dim_shift.py"


rule evaluate_dim_shift:
    """Every trained and untrained model of each case (one job) on the same fresh prompts at every shifted value and L."""
    input:
        [r for c in DS_CASES for r in dim_shift_runs(c)],
    output:
        expand(f"{RESULTS}/evaluations/dim_shift/{{case}}.json", case=DS_CASES),
    log:
        f"{RESULTS}/logs/evaluate_dim_shift.log",
    conda:
        "../../envs/train.yaml"
    params:
        L_eval=DS["L_eval"],
        eval_prompts=DS["eval_prompts"],
        per_case={
            c: dict(
                run_paths=dim_shift_runs(c),
                out=f"{RESULTS}/evaluations/dim_shift/{c}.json",
                eval_values=DS["cases"][c]["eval_values"],
                eval_seed=seed_for("dim_shift_eval", c),
            )
            for c in DS_CASES
        },
        code=code_fingerprint("evaluate_dim_shift"),
    script:
        "../scripts/evaluate_dim_shift.py"


rule dim_shift_oracles:
    """Zero predictor and Bayes oracle of each case (one job) at every shifted value (closed form or Monte Carlo)."""
    output:
        expand(
            f"{RESULTS}/evaluations/dim_shift_oracles/{{case}}.parquet", case=DS_CASES
        ),
    log:
        f"{RESULTS}/logs/dim_shift_oracles.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        n=config["n"],
        num_prompts=DS["oracle_prompts"],
        per_case={
            c: dict(
                out=f"{RESULTS}/evaluations/dim_shift_oracles/{c}.parquet",
                base_params=case_params(c),
                eval_values=DS["cases"][c]["eval_values"],
                seed=seed_for("dim_shift_oracles", c),
            )
            for c in DS_CASES
        },
        code=code_fingerprint("dim_shift_oracles"),
    script:
        "../scripts/dim_shift_oracles.py"


rule gather_dim_shift:
    """Figure 4b tables: evaluations, oracles and the case-1 finite-L theory at the shifted settings."""
    input:
        evals=expand(f"{RESULTS}/evaluations/dim_shift/{{case}}.json", case=DS_CASES),
        oracles=expand(
            f"{RESULTS}/evaluations/dim_shift_oracles/{{case}}.parquet", case=DS_CASES
        ),
    output:
        table=f"{RESULTS}/tables/dim_shift.parquet",
        oracles=f"{RESULTS}/tables/dim_shift_oracles.parquet",
        theory=f"{RESULTS}/tables/dim_shift_theory.parquet",
    log:
        f"{RESULTS}/logs/gather_dim_shift.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        n=config["n"],
        sigma0_2=config["cases"].get("subspace", {}).get("sigma0_2", 0.0),
        sigma_z2=config["cases"].get("subspace", {}).get("sigma_z2", 0.0),
        code=code_fingerprint("gather_dim_shift"),
    script:
        "../scripts/gather_dim_shift.py"


rule plot_dim_shift:
    """Figure 4b: MSE against the shifted parameter per L (trained, untrained, oracles), from tables only."""
    input:
        table=f"{RESULTS}/tables/dim_shift.parquet",
        oracles=f"{RESULTS}/tables/dim_shift_oracles.parquet",
        theory=f"{RESULTS}/tables/dim_shift_theory.parquet",
    output:
        pdf=f"{RESULTS}/figures/fig4b.pdf",
        png=report(
            f"{RESULTS}/figures/fig4b.png",
            caption="../report/dim_shift.rst",
            category=report_category("dim_shift"),
        ),
    log:
        f"{RESULTS}/logs/plot_dim_shift.log",
    conda:
        "../../envs/plot.yaml"
    params:
        run_name=RUN_NAME,
        code=code_fingerprint("plot_dim_shift"),
    script:
        "../scripts/plot_dim_shift.py"
