# Claims (claims): the reproduction verdict. Every claim of the paper against this run's tables,
# the deviations from the authors' code with their measured effect, and the report's verdict pages.

CLAIMS = config["claims"]
# `--config strict_claims=true` arrives as the string "true" (Snakemake parses only "True" as a boolean).
STRICT_CLAIMS = str(config["strict_claims"]).lower() == "true"
# Deviation (c): the Figure 3 subspace/linear runs retrained on the other dataset choice.
OTHER_DATASET = "shared" if config["dataset"] == "per_seed" else "per_seed"
DATASET_CHOICE = (
    enabled("claims")
    and enabled("training_dynamics")
    and "subspace" in CASES
    and "linear" in MODELS
    and CLAIMS["dataset_choice"]
)


# Requested by the claims rule only when DATASET_CHOICE (subspace and linear in this run).
rule train_dataset_choice:
    """Deviation (c): the subspace/linear Figure 3 runs retrained, every seed, on the other dataset choice."""
    output:
        f"{RESULTS}/tables/dataset_choice.parquet",
    log:
        f"{RESULTS}/logs/train_dataset_choice.log",
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        gpu=gpu_tokens(),
    params:
        dataset=OTHER_DATASET,
        runs=run_params(plan_runs(config, "dataset_choice")) if DATASET_CHOICE else [],
        code=code_fingerprint("train_dataset_choice"),
    script:
        "../scripts/train_dataset_choice.py"


# Every table a claim or deviation reads (only tables: the claims never look at runs or figures), of the
# studies this run builds; the claims of a study switched off are "not checkable" in the table.
STUDY_TABLES = {
    "training_dynamics": ("trained_weights", "training_curves", "baselines"),
    "alpha_beta_landscape": ("landscape_points", "landscape"),
    "context_sweep": ("context_sweep", "context_sweep_theory"),
    "dim_shift": ("dim_shift", "dim_shift_oracles"),
    "dam_energy": ("hopfield_trajectories",),
    "hopfield_iterations": ("hopfield_iterations",),
    "gap_study": ("gap_study", "gap_study_summary"),  # opt-in (gap_study.enabled)
    "noisy_context": (
        "noisy_context_summary",
        "noisy_context_trained",
    ),  # opt-in (noisy_context.enabled)
    "phase_diagram": (
        "phase_diagram_summary",
        "phase_diagram_checks",
    ),  # opt-in (phase_diagram.enabled)
    "depth": ("depth", "depth_runs", "depth_layers"),  # opt-in (depth.enabled)
}
CLAIM_TABLES = [
    f"{RESULTS}/tables/{name}.parquet"
    for study, names in STUDY_TABLES.items()
    if enabled(study)
    for name in names
] + ([f"{RESULTS}/tables/dataset_choice.parquet"] if DATASET_CHOICE else [])

# The settings the claims compare with the paper's (claims.paper_scale) and their tolerances.
CLAIM_SETTINGS = {
    k: config[k]
    for k in (
        "n",
        "L",
        "n_train",
        "n_test",
        "seeds",
        "dataset",
        "models",
        "cases",
        "context_sweep",
        "dim_shift",
        "dam_energy",
        "gap_study",
        "depth",
        "claims",
    )
}
CLAIM_SETTINGS["train"] = TRAIN_SETTINGS

if enabled("claims"):
    FINAL_TARGETS.extend(
        [
            f"{RESULTS}/tables/claims.parquet",
            f"{RESULTS}/claims.md",
        ]
    )


rule claims:
    """The verdict: every claim and deviation from the tables; fails under strict_claims if one is not reproduced."""
    input:
        tables=CLAIM_TABLES,
    output:
        claims=f"{RESULTS}/tables/claims.parquet",
        deviations=f"{RESULTS}/tables/deviations.parquet",
        md=f"{RESULTS}/claims.md",
        claims_html=report(
            f"{RESULTS}/report/claims.html",
            caption="../report/claims.rst",
            category=VERDICT_CATEGORY,
        ),
        deviations_html=report(
            f"{RESULTS}/report/deviations.html",
            caption="../report/claims_deviations.rst",
            category=VERDICT_CATEGORY,
        ),
    log:
        f"{RESULTS}/logs/claims.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        settings=CLAIM_SETTINGS,
        strict=STRICT_CLAIMS,
        code=code_fingerprint("claims"),
    script:
        "../scripts/claims.py"
