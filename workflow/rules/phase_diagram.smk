# Phase diagram (phase_diagram, beyond the paper): Figure 3 training at every point of a grid of settings.
# Opt-in: snakemake phase_diagram --cores 2 builds it alone; with phase_diagram.enabled: true it joins rule all.
# The grid is checked point by point before any job starts (config.py: check_config -> grid_errors).

PD = config["phase_diagram"]
PD_OUT = [
    f"{RESULTS}/figures/fig_phase_diagram.pdf",
    f"{RESULTS}/figures/fig_phase_diagram.png",
]
PD_TABLES = {
    "table": f"{RESULTS}/tables/phase_diagram.parquet",
    "runs": f"{RESULTS}/tables/phase_diagram_runs.parquet",
    "checks": f"{RESULTS}/tables/phase_diagram_checks.parquet",
    "summary": f"{RESULTS}/tables/phase_diagram_summary.parquet",
}

if enabled("phase_diagram"):
    FINAL_TARGETS.extend(PD_OUT)


rule phase_diagram:
    """The whole phase diagram (opt-in): its figure, tables and one folder per grid point."""
    input:
        PD_OUT,
        list(PD_TABLES.values()),
        f"{RESULTS}/phase_diagram",


rule train_phase_diagram:
    """One block of grid points of a case (one L): the Figure 3 runs of every point as ensembles, then each point's
    fresh-prompt MSEs, Bayes, best scaled identity and theory."""
    output:
        runs=f"{RESULTS}/evaluations/phase_diagram/{{case}}/{{block}}_runs.parquet",
        refs=f"{RESULTS}/evaluations/phase_diagram/{{case}}/{{block}}_refs.parquet",
    log:
        f"{RESULTS}/logs/train_phase_diagram/{{case}}_{{block}}.log",
    wildcard_constraints:
        block=r"L\d+_\d+",
    # longest first (points x L x epochs), so that no long job starts last
    priority: lambda wildcards: pdiag.block_cost(config, wildcards.case, wildcards.block)
    conda:
        "../../envs/train.yaml"
    threads: PD["threads"]
    resources:
        gpu=gpu_tokens(),
    params:
        points=lambda w: pdiag.job_points(config, w.case, w.block),
        runs=lambda w: run_params(pdiag.block_runs(config, w.case, w.block)),
        fresh_prompts=PD["fresh_prompts"],
        landscape_prompts=PD["landscape_prompts"],
        beta_bounds=lambda w: PD["scaled_identity_beta"][w.case],
        code=code_fingerprint("train_phase_diagram"),
    script:
        "../scripts/train_phase_diagram.py"


rule gather_phase_diagram:
    """The tidy grid table, every run, the per-point checks and their summary; one folder per point."""
    input:
        runs=phase_diagram_files("runs"),
        refs=phase_diagram_files("refs"),
    output:
        **PD_TABLES,
        points=directory(f"{RESULTS}/phase_diagram"),
    log:
        f"{RESULTS}/logs/gather_phase_diagram.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        tolerances={**config["claims"]["tolerances"], **PD["tolerances"]},
        code=code_fingerprint("gather_phase_diagram"),
    script:
        "../scripts/gather_phase_diagram.py"


rule plot_phase_diagram:
    """Heatmaps of test MSE / Bayes with the near-Bayes region; slices of beta and alpha*beta against theory."""
    input:
        table=PD_TABLES["table"],
        checks=PD_TABLES["checks"],
    output:
        pdf=report(
            f"{RESULTS}/figures/fig_phase_diagram.pdf",
            caption="../report/phase_diagram.rst",
            category=report_category("phase_diagram"),
        ),
        png=f"{RESULTS}/figures/fig_phase_diagram.png",
    log:
        f"{RESULTS}/logs/plot_phase_diagram.log",
    conda:
        "../../envs/plot.yaml"
    params:
        near_bayes=PD["tolerances"]["near_bayes"]["value"],
        code=code_fingerprint("plot_phase_diagram"),
    script:
        "../scripts/plot_phase_diagram.py"
