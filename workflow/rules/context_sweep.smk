# Figure 4a (context_sweep): linear (and softmax) attention trained on the subspace case at each context length L.

CS = config["context_sweep"]


if enabled("context_sweep"):
    FINAL_TARGETS.extend(
        [
            f"{RESULTS}/figures/fig4a.pdf",
            f"{RESULTS}/figures/fig4a.png",
        ]
    )


rule train_context_sweep:
    """Figure 4a training of one model: every (L, seed), the seeds of each L as one batched ensemble."""
    output:
        runs=context_sweep_runs("{model}"),
    log:
        f"{RESULTS}/logs/train_context_sweep/{{model}}.log",
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        gpu=gpu_tokens(),
    params:
        runs=lambda w: run_params(plan_runs(config, "context_sweep", model=w.model)),
        fresh_prompts=CS["fresh_prompts"],
        fresh_seeds={L: seed_for("context_sweep_fresh", L) for L in CS["L"]},
        code=code_fingerprint("train_context_sweep"),
    script:
        "../scripts/train_context_sweep.py"


rule gather_context_sweep:
    """Figure 4a tables: final MSEs and weights per (model, L, seed); closed-form theory along L."""
    input:
        runs=[r for m in CS["models"] for r in context_sweep_runs(m)],
    output:
        table=f"{RESULTS}/tables/context_sweep.parquet",
        theory=f"{RESULTS}/tables/context_sweep_theory.parquet",
    log:
        f"{RESULTS}/logs/gather_context_sweep.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        code=code_fingerprint("gather_context_sweep"),
    script:
        "../scripts/gather_context_sweep.py"


rule plot_context_sweep:
    """Figure 4a: final MSE and alpha*beta against the context length L, from tables only."""
    input:
        table=f"{RESULTS}/tables/context_sweep.parquet",
        theory=f"{RESULTS}/tables/context_sweep_theory.parquet",
    output:
        pdf=f"{RESULTS}/figures/fig4a.pdf",
        png=report(
            f"{RESULTS}/figures/fig4a.png",
            caption="../report/context_sweep.rst",
            category=report_category("context_sweep"),
        ),
    log:
        f"{RESULTS}/logs/plot_context_sweep.log",
    conda:
        "../../envs/plot.yaml"
    params:
        run_name=RUN_NAME,
        code=code_fingerprint("plot_context_sweep"),
    script:
        "../scripts/plot_context_sweep.py"
