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


# One rule file per study, in the order of STUDIES (src/icdenoise/studies/registry.py, the one list of
# studies); the same name is its module in src/icdenoise/studies/ and plotting/, its report caption and its
# config section.
for study in STUDIES:

    include: f"workflow/rules/{study.name}.smk"


# The verdict, after the studies whose tables it reads: claims and deviations tables, report pages.
include: "workflow/rules/claims.smk"


# Every enabled study's figure (STUDIES) and the verdict. Opt-in studies (gap_study) only with
# `--config <study>__enabled=true`; alone, e.g. `snakemake gap_study --cores 8 --resources gpu=1`.
rule all:
    default_target: True
    input:
        FINAL_TARGETS,
