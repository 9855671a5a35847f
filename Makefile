# fcnn: every target creates .venv on first use. `make help` lists them.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
FCNN   := $(BIN)/fcnn
# The installed package must match the sources: reinstall when pyproject.toml changes.
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup run test lint data ex5.1 ex5.1-search ex5.2 ex5.3 ex5.4 bench timing sweep clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_.-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python >= 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e ".[test]"
	@touch $(STAMP)

setup: $(STAMP) ## create .venv and install fcnn with its test extras

data: $(STAMP) ## fetch and verify MNIST into the data cache (also done on first use)
	$(FCNN) data fetch

run: $(STAMP) ## fetch MNIST if absent and train the default model (~98% in under a minute)
	$(FCNN) train

test: $(STAMP) ## run the test suite (includes a few real-MNIST tests)
	$(BIN)/python -m pytest -q

lint: $(STAMP) ## ruff
	$(BIN)/ruff check fcnn_cli tests

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

bench: $(STAMP) ## time the lab's timing job on every backend against this machine's floor (~3 min)
	$(FCNN) bench

timing: $(STAMP) ## the lab's timing table: `make bench` next to the lab's reported times (~3 min)
	$(FCNN) bench lab_reference=true

clean: ## remove run outputs and caches (not .venv, not the MNIST data)
	rm -rf outputs multirun .pytest_cache .ruff_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

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
