# icdenoise: rebuild every figure of "In-context denoising with one-layer transformers"
# (Smart, Bietti, Sengupta; ICML 2025) from nothing.
#
#   snakemake --cores 8 --resources gpu=1                      # paper scale, config/config.yaml
#   snakemake --cores 2 --configfile config/smoke.yaml         # tiny, for tests
#   snakemake --profile profiles/slurm                         # on a SLURM cluster


from snakemake.utils import min_version

min_version("9.0")


configfile: f"{workflow.basedir}/config/config.yaml"


# snakemake --report report.html: this page first, then the Verdict category, then every figure.
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


wildcard_constraints:
    case="|".join(CASES),
    model="|".join(MODELS),
    seed=r"\d+",


# One rule file per study; the same name is its module in src/icdenoise/studies/ and plotting/,
# its report caption and its config section.
include: "workflow/rules/training_dynamics.smk"  # Figure 3
include: "workflow/rules/context_sweep.smk"  # Figure 4a
include: "workflow/rules/dim_shift.smk"  # Figure 4b
include: "workflow/rules/dam_energy.smk"  # Figure 5
include: "workflow/rules/hopfield_iterations.smk"  # beyond the paper (§4)
include: "workflow/rules/alpha_beta_landscape.smk"  # Figure 6
include: "workflow/rules/claims.smk"  # the verdict: claims and deviations tables, report pages
include: "workflow/rules/gap_study.smk"  # beyond the paper, opt-in: snakemake gap_study
include: "workflow/rules/phase_diagram.smk"  # beyond the paper, opt-in: snakemake phase_diagram


# Every figure: Figure 3 (training_dynamics), Figure 4a (context_sweep), Figure 4b (dim_shift),
# Figure 5 (dam_energy), Figure 6 (alpha_beta_landscape) and Hopfield iterations (hopfield_iterations).
# Opt-in: Gap study (gap_study), alone with `snakemake gap_study --cores 8 --resources gpu=1`; in rule all and the
# claims table with `--config gap_study__enabled=true`. Opt-in: Phase diagram (phase_diagram), alone with
# `snakemake phase_diagram --cores 2`; in rule all with `--config phase_diagram__enabled=true`.
rule all:
    default_target: True
    input:
        FINAL_TARGETS,
