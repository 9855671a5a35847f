# fcnn: every target creates .venv on first use. `make help` lists them.
# The Python .venv is made with: PYTHON=... when given (`make run PYTHON=/usr/bin/python3.12`),
# else the first of PYTHON_CANDIDATES on the PATH that runs and is MIN_PYTHON or newer (a pyenv
# shim of a version not selected does not run). `make which-python` says which, as does `make run`
# when it creates .venv.
MIN_PYTHON        := 3.11
PYTHON_CANDIDATES := python3.11 python3.12 python3.13 python3.14 python3
# An interpreter's version ("3.12"), or nothing when it is not on the PATH or does not run.
python_version = $(shell $(1) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
# "yes" when version $(1) ("3.12") is at least MIN_PYTHON; nothing for anything else.
MIN_MAJOR := $(word 1,$(subst ., ,$(MIN_PYTHON)))
MIN_MINOR := $(word 2,$(subst ., ,$(MIN_PYTHON)))
new_enough = $(shell v='$(1)'; major=$${v%%.*}; minor=$${v#*.}; \
	{ [ "$$major" -gt $(MIN_MAJOR) ] || { [ "$$major" -eq $(MIN_MAJOR) ] && [ "$$minor" -ge $(MIN_MINOR) ]; }; } \
	2>/dev/null && echo yes)
# Found once, when first used (a target that needs no Python probes none).
PYTHON ?= $(eval PYTHON := $(firstword $(foreach p,$(PYTHON_CANDIDATES),$(if $(call new_enough,$(call python_version,$(p))),$(p)))))$(PYTHON)
VENV   := .venv
BIN    := $(VENV)/bin
FCNN   := $(BIN)/fcnn
# The installed package must match the sources: reinstall when pyproject.toml or the pinned
# versions change.
STAMP  := $(VENV)/.installed
# The versions `make setup` installs (numpy, JAX and scikit-learn decide speed and bitwise results):
# every package of the extras pinned, written by `make constraints` with pip-tools. A plain
# `pip install -e .` ignores it and takes the ranges in pyproject.toml.
CONSTRAINTS := constraints.txt

.DEFAULT_GOAL := help
.PHONY: help which-python setup run test lint data ex5.1 ex5.1-search ex5.2 ex5.3 ex5.4 bench timing peers sweep clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_.-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# The interpreter taken and why, in one line; or one line saying what is missing and how to name
# one, and make stops (checked as the recipe is expanded, before any of it runs).
NO_PYTHON = need Python $(MIN_PYTHON) or newer: none of $(PYTHON_CANDIDATES) on the PATH is one; install one, or name it: make run PYTHON=/path/to/python3
define check_python
$(if $(PYTHON),,$(error $(NO_PYTHON)))
$(eval PYTHON_VERSION := $(call python_version,$(PYTHON)))
$(if $(PYTHON_VERSION),,$(error PYTHON=$(PYTHON): not found, or not a Python that runs))
$(if $(call new_enough,$(PYTHON_VERSION)),,$(error PYTHON=$(PYTHON) is Python $(PYTHON_VERSION); need $(MIN_PYTHON) or newer))
@echo "Python: $(PYTHON) ($(PYTHON_VERSION)), $(if $(filter file,$(origin PYTHON)),the first of $(PYTHON_CANDIDATES) on the PATH that is $(MIN_PYTHON) or newer,as PYTHON= names)"
endef

which-python: ## say which Python `make` creates .venv with (PYTHON=... to name one)
	$(check_python)

$(BIN)/python:
	$(check_python)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml $(CONSTRAINTS)
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) -e ".[test]"
	@touch $(STAMP)

setup: $(STAMP) ## create .venv and install fcnn with its test extras, at the versions in constraints.txt

# pip-tools lives in a venv of its own, so that it and its dependencies never enter .venv.
TOOLS_VENV := .venv-tools
PIP_TOOLS  ?= pip-tools==7.6.2
$(TOOLS_VENV)/bin/pip-compile:
	$(check_python)
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install -q "$(PIP_TOOLS)"

.PHONY: constraints
# Pins already in constraints.txt are kept while pyproject.toml allows them; UPGRADE=1 takes the
# newest versions that fit (then run `make test` and `make bench-compare REF=HEAD`).
constraints: $(TOOLS_VENV)/bin/pip-compile ## regenerate constraints.txt (every extra pinned) with pip-compile; UPGRADE=1 for newer versions
	CUSTOM_COMPILE_COMMAND="make constraints" $(TOOLS_VENV)/bin/pip-compile -q --strip-extras --unsafe-package fcnn-cli --no-emit-index-url \
		--no-emit-find-links $(if $(UPGRADE),--upgrade) --extra sweep --extra mlflow --extra docs \
		--extra notebooks --extra test -o $(CONSTRAINTS) pyproject.toml

data: $(STAMP) ## fetch and verify MNIST into the data cache (also done on first use)
	$(FCNN) data fetch

run: $(STAMP) ## fetch MNIST if absent and train the default model (~98% in under a minute)
	$(FCNN) train
	@echo "to put fcnn on your PATH: source $(BIN)/activate   (or type $(FCNN) instead of fcnn)"

# Three workers (pytest-xdist) on two cores, a test file per worker at a time: the longest files
# mostly wait on a SLURM cluster's clock or on subprocesses (8:39 against 9:53 with two workers).
PYTEST_WORKERS ?= 3
PYTEST := $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile
# pytest exits 5 when a selection holds no test (say, a checkout without the cluster tests):
# nothing failed, so the target succeeds, and says so.
NO_TESTS_OK := || { status=$$?; test $$status -eq 5 || exit $$status; echo "pytest: no test in this selection"; }
test: $(STAMP) ## run the test suite but the soaks (make test-cluster), real-MNIST and MLflow-server tests included
	$(PYTEST) -m "not cluster and not soak" $(NO_TESTS_OK)

.PHONY: test-cluster
test-cluster: $(STAMP) ## the soaks: tests that wait on a SLURM cluster's clock, the kill and requeue soaks, the GPU check's dry run (CI runs them after make test)
	$(PYTEST) -m "cluster or soak" $(NO_TESTS_OK)

.PHONY: test-quick
test-quick: $(STAMP) ## the quick subset of make test: no slow, real-MNIST or SLURM tests (~3 min on 2 cores)
	$(PYTEST) -m "not slow and not mnist and not slurm and not cluster and not soak" $(NO_TESTS_OK)

.PHONY: test-bad-input
test-bad-input: $(STAMP) ## the property test of bad input with 200 drawn command lines (~10 min), with a tally
	FCNN_PROPERTY_EXAMPLES=200 $(BIN)/python -m pytest -q -s tests/cli/test_bad_input_property.py

lint: $(STAMP) ## ruff, and lint-imports: the layers of fcnn_cli (pyproject.toml [tool.importlinter])
	$(BIN)/ruff check fcnn_cli tests scripts
	$(BIN)/lint-imports

ex5.1: $(STAMP) ## lab Example 5.1: scikit-learn MLPClassifier, [500,250], sgd+nesterov, 20 epochs (lab: 98.5%)
	$(FCNN) train experiment=ex5_1

# Sweeps land in a fresh timestamped directory per invocation, then get a report.
STAMP_NOW := $(shell date +%Y-%m-%d_%H-%M-%S)

ex5.1-search: $(STAMP) ## lab Example 5.1's architecture search: Optuna, 8 trials on MNIST (~10 min), then a report
	$(FCNN) train experiment=ex5_1_search hydra.sweep.dir=outputs/multirun/ex5_1_search-$(STAMP_NOW)
	$(FCNN) report outputs/multirun/ex5_1_search-$(STAMP_NOW) --sort val_acc

sweep: $(STAMP) ## a small parallel sweep on digits (joblib, 8 jobs, ~1 min), then `fcnn report` on it
	$(FCNN) train -m hydra/launcher=local dataset=digits max_epochs=20 batch_size=32 progress=false \
		backend=numpy,sklearn lr=0.05,0.2 'struct=[64],[128,64]' hydra.sweep.dir=outputs/multirun/sweep-$(STAMP_NOW)
	$(FCNN) report outputs/multirun/sweep-$(STAMP_NOW) --sort test_acc

ex5.2: $(STAMP) ## lab Example 5.2: numpy backprop, [500,250], 12 epochs, batch 10 (lab: 98.50%)
	$(FCNN) train experiment=ex5_2

ex5.3: $(STAMP) ## lab Example 5.3: the same backprop on JAX, one compiled call per epoch (lab: 98.63%)
	$(FCNN) train experiment=ex5_3

ex5.4: $(STAMP) ## lab Example 5.4: forward + loss only, gradients by jax.grad, 20 epochs (lab: 98.30%)
	$(FCNN) train experiment=ex5_4

.PHONY: notebooks
# NOTEBOOK_ARGS go to scripts/notebooks.py, e.g. NOTEBOOK_ARGS="--set dataset=digits" (a minute).
NOTEBOOK_ARGS ?=
notebooks: $(STAMP) ## run the lab's notebooks (notebooks/*.ipynb: Examples, Problems) on MNIST in a Jupyter kernel, saving their outputs (~15 min on 2 cores)
	$(BIN)/python scripts/notebooks.py notebooks/*.ipynb --write $(NOTEBOOK_ARGS)

bench: $(STAMP) ## time the lab's timing job on every backend against this machine's floor (~3 min)
	$(FCNN) bench

timing: $(STAMP) ## the lab's timing table: `make bench` next to the lab's reported times (~3 min)
	$(FCNN) bench lab_reference=true

# The peers: the job written plainly in numpy, jitted JAX, scikit-learn's MLPClassifier and
# PyTorch on the CPU (where installed; never a dependency), in one sitting with fcnn's backends.
peers: $(STAMP) ## `make bench` beside the job written plainly in numpy, JAX, scikit-learn, PyTorch (~6 min)
	$(FCNN) bench peers=true

.PHONY: bench-compare
# A/B guard (scripts/bench_compare.py): REF in a temporary git worktree against this working tree,
# one environment built from constraints.txt for both (cached), `fcnn bench` run A B A B.
# BENCH_ARGS go to both benches, e.g. BENCH_ARGS="dataset=digits struct=[64]" or "optimizer=adam".
ROUNDS     ?= 3
BACKENDS   ?= numpy,jax,jax-grad
BENCH_ARGS ?=
bench-compare: $(STAMP) ## A/B: fit times on REF=<git ref> against this working tree, interleaved (~5 min)
	@test -n "$(REF)" || { echo "usage: make bench-compare REF=<git ref> [ROUNDS=3] [BACKENDS=numpy,jax,jax-grad] [BENCH_ARGS=...]"; exit 2; }
	$(BIN)/python scripts/bench_compare.py --ref "$(REF)" --rounds $(ROUNDS) --backends $(BACKENDS) $(BENCH_ARGS)

.PHONY: p5.1 p5.2 p5.3 problems
# The lab's problems. Each search lands in outputs/problems/<name>-<time>; `make problems` runs
# both searches and then the answer table in one invocation (so one <time> links them).
p5.1: $(STAMP) ## Problem 5.1: logistic regression 3 vs 8 on MNIST, all four backends (~1 min), then a report
	$(FCNN) train -m experiment=p5_1 backend=numpy,jax,jax-grad,sklearn progress=false \
		hydra.sweep.dir=outputs/problems/p5.1-$(STAMP_NOW)
	$(FCNN) report outputs/problems/p5.1-$(STAMP_NOW)

p5.2: $(STAMP) ## Problem 5.2: autoencoder structures, 12 trials on the 3-vs-8 probe's val accuracy (10-30 min)
	$(FCNN) train experiment=p5_2 hparams_search=p5_2_structures hydra.sweep.dir=outputs/problems/p5.2-$(STAMP_NOW)
	$(FCNN) report outputs/problems/p5.2-$(STAMP_NOW) --sort probe_val_acc

p5.3: $(STAMP) ## Problem 5.3: bottleneck classifier structures, 12 trials on the probe's val accuracy (5-15 min)
	$(FCNN) train experiment=p5_3 hparams_search=p5_3_structures hydra.sweep.dir=outputs/problems/p5.3-$(STAMP_NOW)
	$(FCNN) report outputs/problems/p5.3-$(STAMP_NOW) --sort probe_val_acc

problems: p5.2 p5.3 ## Problems 5.2 + 5.3: both searches, then one answer table (raw pixels, AE codes, BN features)
	$(FCNN) problems --autoencoder outputs/problems/p5.2-$(STAMP_NOW) \
		--bottleneck outputs/problems/p5.3-$(STAMP_NOW) --out outputs/problems/answer-$(STAMP_NOW)
.PHONY: p5.4 p5.4-search
# Lab Problem 5.4: the same network and seed (experiments/p5_4_base.yaml) trained with each
# optimizer at the learning rate its validation search chose (p5.4-search, recorded in
# experiments/p5_4_*.yaml); `fcnn report` tabulates them and overlays curves C, A and B.
P5_4_RUNS := experiment=p5_4_sgd,p5_4_momentum,p5_4_adam
P5_4_SEARCH := val_fraction=0.1 max_epochs=5 progress=false

p5.4: $(STAMP) ## lab Problem 5.4: SGD, SGD+momentum and Adam on MNIST, 20 epochs each (~5 min), then a report
	$(FCNN) train -m $(P5_4_RUNS) progress=false hydra.sweep.dir=outputs/multirun/p5_4-$(STAMP_NOW)
	$(FCNN) report outputs/multirun/p5_4-$(STAMP_NOW)

p5.4-search: $(STAMP) ## Problem 5.4's learning-rate search: 12 runs of 5 epochs, 10% validation (~6 min)
	$(FCNN) train -m experiment=p5_4_sgd lr=0.03,0.1,0.3,1.0 $(P5_4_SEARCH) \
		hydra.sweep.dir=outputs/multirun/p5_4_search-$(STAMP_NOW)/sgd
	$(FCNN) train -m experiment=p5_4_momentum lr=0.003,0.01,0.03,0.1 $(P5_4_SEARCH) \
		hydra.sweep.dir=outputs/multirun/p5_4_search-$(STAMP_NOW)/momentum
	$(FCNN) train -m experiment=p5_4_adam lr=0.0001,0.0003,0.001,0.003 $(P5_4_SEARCH) \
		hydra.sweep.dir=outputs/multirun/p5_4_search-$(STAMP_NOW)/adam
	$(FCNN) report outputs/multirun/p5_4_search-$(STAMP_NOW) --sort val_acc

clean: ## remove run outputs and caches (not .venv, not the MNIST data)
	rm -rf outputs multirun .pytest_cache .ruff_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

.PHONY: gpu-check-prepare gpu-check-dry-run
gpu-check-prepare: $(STAMP) ## the GPU check's carry (.gpu-check/): wheels for the device's Python 3.12 + MNIST gzipped
	$(BIN)/python scripts/gpu_check_prepare.py --out .gpu-check

gpu-check-dry-run: gpu-check-prepare ## scripts/gpu_check.sh's steps on this CPU, in a venv imitating the device image (~2 min)
	PYTHON=$(BIN)/python bash scripts/gpu_check.sh --dry-run
# --- scaling out: a local SLURM cluster, sweeps on it, MLflow, seeds --------------------------
.PHONY: slurm-up slurm-down slurm-status sweep-slurm mlflow-ui seeds seeds-ex5.1 seeds-ex5.2 seeds-ex5.3 seeds-ex5.4

slurm-up: ## start a one-node SLURM cluster on this machine (root; installs slurm-wlm and munge with apt)
	scripts/slurm-local up

slurm-down: ## stop the local SLURM cluster's daemons
	scripts/slurm-local down

slurm-status: ## is the local SLURM cluster up? (sinfo)
	scripts/slurm-local status

sweep-slurm: $(STAMP) ## `make sweep`'s 8 jobs as one SLURM job array on the running cluster, then a report
	$(FCNN) train -m hydra/launcher=slurm dataset=digits max_epochs=20 batch_size=32 progress=false \
		backend=numpy,sklearn lr=0.05,0.2 'struct=[64],[128,64]' hydra.sweep.dir=outputs/multirun/sweep-slurm-$(STAMP_NOW)
	$(FCNN) report outputs/multirun/sweep-slurm-$(STAMP_NOW) --sort test_acc

MLFLOW_PORT ?= 5000
mlflow-ui: $(STAMP) ## MLflow's UI on the local store (outputs/mlflow, `logger=mlflow` runs) at http://127.0.0.1:5000
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/outputs/mlflow/mlflow.db --host 127.0.0.1 --port $(MLFLOW_PORT)

# The lab's examples over several seeds, then `fcnn report --group-by seed`: mean ± std per example.
# SEEDS=1,2,3 for fewer; SEED_ARGS for more overrides, e.g. SEED_ARGS=hydra/launcher=slurm.
SEEDS     ?= 1,2,3,4,5
SEED_ARGS ?=
SEEDS_DIR := outputs/multirun/seeds-$(STAMP_NOW)
seed_sweep = $(FCNN) train -m experiment=$(1) seed=$(SEEDS) progress=false $(SEED_ARGS) hydra.sweep.dir=$(SEEDS_DIR)/$(1)

seeds-ex5.1: $(STAMP) ## Example 5.1 (sklearn) over SEEDS=1,2,3,4,5, then mean ± std (~40 min on 2 cores)
	$(call seed_sweep,ex5_1)
	$(FCNN) report $(SEEDS_DIR)/ex5_1 --group-by seed

seeds-ex5.2: $(STAMP) ## Example 5.2 (numpy, batch 10) over SEEDS, then mean ± std (~45 min on 2 cores)
	$(call seed_sweep,ex5_2)
	$(FCNN) report $(SEEDS_DIR)/ex5_2 --group-by seed

seeds-ex5.3: $(STAMP) ## Example 5.3 (jax, batch 10) over SEEDS, then mean ± std (~15 min on 2 cores)
	$(call seed_sweep,ex5_3)
	$(FCNN) report $(SEEDS_DIR)/ex5_3 --group-by seed

seeds-ex5.4: $(STAMP) ## Example 5.4 (jax-grad) over SEEDS, then mean ± std (~17 min on 2 cores)
	$(call seed_sweep,ex5_4)
	$(FCNN) report $(SEEDS_DIR)/ex5_4 --group-by seed

seeds: $(STAMP) ## Examples 5.1-5.4 over SEEDS each, then one report of mean ± std (about 2 h on 2 cores)
	$(call seed_sweep,ex5_1)
	$(call seed_sweep,ex5_2)
	$(call seed_sweep,ex5_3)
	$(call seed_sweep,ex5_4)
	$(FCNN) report $(SEEDS_DIR) --group-by seed

# --- the manual: docs/ as a site (mkdocs-material) ----------------------------------------------
.PHONY: docs
docs: $(STAMP) ## regenerate docs/reference/config.md from the settings schema and build the site with mkdocs-material (offline, strict) into site/
	$(BIN)/python -m fcnn_cli.config.reference --write docs/reference/config.md
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) -e ".[docs]"
	$(BIN)/mkdocs build --strict --site-dir site

# --- the best fully connected net (issue 21) -------------------------------------------------
.PHONY: best best-seeds best-pure
# An Optuna search on the validation accuracy (conf/hparams_search/best.yaml: BEST_TRIALS trials
# of BEST_EPOCHS epochs: the budget), its best trial written as experiments/$(BEST_NAME).yaml
# with its provenance (scripts/best_recipe.py), that recipe trained over SEEDS on the full
# training set, and `fcnn report --group-by seed`: mean ± std test accuracy.
# BEST_ARGS go to the search, e.g. BEST_ARGS=augment.shift=0 for the pure net without shifts.
# BEST_FINAL_EPOCHS: train the recipe this long (searched short, trained long; empty: as searched).
# `make best-seeds SEED_ARGS=augment.shift=2` trains the written recipe again with other settings;
# `make best-pure BEST_DIR=<a make best's directory>` the best trial of its search without
# augmentation (augment.shift=0) as experiments/best_pure.yaml, over SEEDS.
BEST_TRIALS ?= 16
BEST_EPOCHS ?= 20
BEST_FINAL_EPOCHS ?= 50
BEST_DATA   ?= mnist
BEST_NAME   ?= best
BEST_ARGS   ?=
BEST_DIR    ?= outputs/multirun/best-$(STAMP_NOW)
BEST_SEEDS_DIR ?= $(BEST_DIR)/seeds
best: $(STAMP) ## the best FC net: Optuna search (BEST_TRIALS x BEST_EPOCHS), recipe -> experiments/best.yaml, SEEDS, report
	$(FCNN) train hparams_search=best dataset=$(BEST_DATA) max_epochs=$(BEST_EPOCHS) \
		hydra.sweeper.n_trials=$(BEST_TRIALS) $(BEST_ARGS) hydra.sweep.dir=$(BEST_DIR)/search
	$(BIN)/python scripts/best_recipe.py $(BEST_DIR)/search --out experiments/$(BEST_NAME).yaml \
		$(if $(BEST_FINAL_EPOCHS),--epochs $(BEST_FINAL_EPOCHS))
	$(MAKE) --no-print-directory best-seeds BEST_NAME=$(BEST_NAME) BEST_DIR=$(BEST_DIR)

best-seeds: $(STAMP) ## train experiments/$(BEST_NAME).yaml over SEEDS (SEED_ARGS: e.g. augment.shift=2), report mean ± std
	$(FCNN) train -m experiment=$(BEST_NAME) seed=$(SEEDS) progress=false $(SEED_ARGS) \
		hydra.sweep.dir=$(BEST_SEEDS_DIR)
	$(FCNN) report $(BEST_SEEDS_DIR) --group-by seed

best-pure: $(STAMP) ## a make best search's best trial without augmentation -> experiments/best_pure.yaml, SEEDS, report
	@test -d "$(BEST_DIR)/search" || { echo "usage: make best-pure BEST_DIR=<the directory of a make best, holding search/>"; exit 2; }
	$(BIN)/python scripts/best_recipe.py $(BEST_DIR)/search --only augment.shift=0 \
		--out experiments/best_pure.yaml $(if $(BEST_FINAL_EPOCHS),--epochs $(BEST_FINAL_EPOCHS))
	$(MAKE) --no-print-directory best-seeds BEST_NAME=best_pure BEST_DIR=$(BEST_DIR) \
		BEST_SEEDS_DIR=$(BEST_DIR)/seeds-pure

# --- past 99.4% with a plain fully connected net (issue 31) -------------------------------------
.PHONY: record record-search record-seeds record-pure
# As make best, for the record: an Optuna search on the validation accuracy over the distortions'
# strengths and the regularisation around experiments/record.yaml (conf/hparams_search/record.yaml:
# RECORD_TRIALS trials of RECORD_EPOCHS epochs), its best trial written as
# experiments/$(RECORD_NAME).yaml with its provenance (scripts/best_recipe.py), trained
# RECORD_FINAL_EPOCHS epochs over SEEDS on the full training set, then mean ± std. Hours: an epoch
# of [2048,2048] with distortions is about 27 s on one core, so 120 epochs about an hour a seed.
# RECORD_SEARCH_ARGS go to the search (struct=[1024,1024]: search the strengths on a net 3x
# cheaper), RECORD_SET to the recipe (struct=[2048,2048]: then train the net it is for),
# RECORD_ARGS to every seed. `make record-seeds` trains the recipe as it is, `make record-pure`
# experiments/record_pure.yaml (no shifts or distortions: adversarial training and max-norm).
RECORD_TRIALS       ?= 16
RECORD_EPOCHS       ?= 10
RECORD_FINAL_EPOCHS ?= 120
RECORD_DATA         ?= mnist
RECORD_NAME         ?= record
RECORD_SEARCH_ARGS  ?=
RECORD_SET          ?=
RECORD_ARGS         ?=
RECORD_DIR          ?= outputs/multirun/record-$(STAMP_NOW)
record: $(STAMP) ## the record: search, recipe -> experiments/record.yaml, SEEDS x 120 epochs, report (many hours)
	$(MAKE) --no-print-directory record-search RECORD_DIR=$(RECORD_DIR)
	$(MAKE) --no-print-directory record-seeds RECORD_DIR=$(RECORD_DIR)

record-search: $(STAMP) ## the record's Optuna search (RECORD_TRIALS x RECORD_EPOCHS), its best trial -> experiments/record.yaml
	$(BIN)/python scripts/best_recipe.py --check --epochs $(RECORD_FINAL_EPOCHS) $(foreach s,$(RECORD_SET),--set '$(s)')
	$(FCNN) train experiment=record hparams_search=record dataset=$(RECORD_DATA) \
		max_epochs=$(RECORD_EPOCHS) hydra.sweeper.n_trials=$(RECORD_TRIALS) $(RECORD_SEARCH_ARGS) \
		hydra.sweep.dir=$(RECORD_DIR)/search
	$(FCNN) report $(RECORD_DIR)/search --sort val_acc
	$(BIN)/python scripts/best_recipe.py $(RECORD_DIR)/search --out experiments/$(RECORD_NAME).yaml \
		--epochs $(RECORD_FINAL_EPOCHS) $(foreach s,$(RECORD_SET),--set '$(s)')

record-seeds: $(STAMP) ## experiments/record.yaml as it is over SEEDS (RECORD_ARGS to each), report mean ± std
	$(MAKE) --no-print-directory best-seeds BEST_NAME=$(RECORD_NAME) BEST_SEEDS_DIR=$(RECORD_DIR)/seeds \
		SEED_ARGS="$(RECORD_ARGS)"

record-pure: $(STAMP) ## experiments/record_pure.yaml (no shifts or distortions: adversarial training) over SEEDS, report mean ± std
	$(MAKE) --no-print-directory best-seeds BEST_NAME=record_pure \
		BEST_SEEDS_DIR=$(RECORD_DIR)/seeds-pure SEED_ARGS="$(RECORD_ARGS)"
