# icdenoise: rebuild every figure of "In-context denoising with one-layer transformers"
# (Smart, Bietti, Sengupta; ICML 2025) from nothing.
#
#   snakemake --cores 8 --resources gpu=1                      # paper scale, config/config.yaml
#   snakemake --cores 2 --configfile config/smoke.yaml         # tiny, for tests
#   snakemake --profile profiles/slurm                         # on a SLURM cluster


from snakemake.utils import min_version

min_version("9.0")


configfile: f"{workflow.basedir}/config/config.yaml"


include: "workflow/rules/common.smk"


wildcard_constraints:
    case="|".join(CASES),
    model="|".join(MODELS),
    seed=r"\d+",


include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/hopfield.smk"
include: "workflow/rules/landscape.smk"
include: "workflow/rules/context_sweep.smk"
include: "workflow/rules/dim_shift.smk"


rule all:
    default_target: True
    input:
        FINAL_TARGETS,
