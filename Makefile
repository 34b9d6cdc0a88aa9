# Two entry points for a fresh machine:
#   make reproduce   set up .venv and rebuild every figure at paper scale
#   make test        set up .venv and run the test suite
# One figure: make fig3 | fig4a | fig4b | fig5 | fig6 | hopfield   (e.g. make fig4a CONFIG=config/smoke.yaml)
# Extra Snakemake arguments: SNAKEMAKE_ARGS='...' (placed right after `snakemake`, so targets work there too)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= 8
SNAKEMAKE_ARGS ?=
CONFIG ?=
# targets and options come first: --configfile, --config and --resources take every word after them
SNAKEMAKE := $(BIN)/snakemake $(SNAKEMAKE_ARGS) $(if $(CONFIG),--configfile $(CONFIG))

.PHONY: setup reproduce test dryrun lint bench clean fig3 fig4a fig4b fig5 fig6 hopfield

$(BIN)/snakemake: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	# compile the fused CPU kernels once (numba's disk cache), so no training job pays for compiling them
	$(BIN)/python -c "from icdenoise import kernels; kernels.warm_up()"
	# byte-compile the package once: every job imports it, and where PYTHONDONTWRITEBYTECODE is set
	# (or src is read-only) each job would otherwise recompile it
	$(BIN)/python -m compileall -q src/icdenoise
	touch $@

setup: $(BIN)/snakemake

reproduce: setup
	$(SNAKEMAKE) --cores $(CORES) --resources gpu=1

# One figure each: the rule that draws it (a rule without wildcards works as a Snakemake target).
fig3: RULE = plot_training_dynamics
fig4a: RULE = plot_context_sweep
fig4b: RULE = plot_dim_shift
fig5: RULE = plot_dam_energy
fig6: RULE = plot_alpha_beta_landscape
hopfield: RULE = plot_hopfield_iterations
fig3 fig4a fig4b fig5 fig6 hopfield: setup
	$(BIN)/snakemake $(RULE) $(SNAKEMAKE_ARGS) $(if $(CONFIG),--configfile $(CONFIG)) --cores $(CORES) --resources gpu=1

test: setup
	$(BIN)/python -m pytest -q

dryrun: setup
	$(SNAKEMAKE) -n --cores $(CORES) --resources gpu=1

lint: setup
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow/rules/

bench: setup
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_bayes.py

clean:
	rm -rf results .snakemake
