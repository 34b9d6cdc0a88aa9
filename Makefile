# Two entry points for a fresh machine:
#   make reproduce   set up .venv and rebuild every figure at paper scale
#   make test        set up .venv and run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= 8
SNAKEMAKE_ARGS ?=

.PHONY: setup reproduce test dryrun lint bench clean

$(BIN)/snakemake: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	# compile the fused CPU kernels once (numba's disk cache), so no training job pays ~6 s for it
	$(BIN)/python -c "from icdenoise import kernels; kernels.warm_up()"
	touch $@

setup: $(BIN)/snakemake

reproduce: setup
	$(BIN)/snakemake --cores $(CORES) --resources gpu=1 $(SNAKEMAKE_ARGS)

test: setup
	$(BIN)/python -m pytest -q

dryrun: setup
	$(BIN)/snakemake -n --cores $(CORES) --resources gpu=1 $(SNAKEMAKE_ARGS)

lint: setup
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow/rules/

bench: setup
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_bayes.py

clean:
	rm -rf results .snakemake
