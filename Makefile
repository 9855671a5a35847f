# fcnn: every target creates .venv on first use. `make help` lists them.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
FCNN   := $(BIN)/fcnn
# The installed package must match the sources: reinstall when pyproject.toml changes.
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup run test lint data ex5.2 clean

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

ex5.2: $(STAMP) ## lab Example 5.2: numpy backprop, [500,250], 12 epochs, batch 10 (lab: 98.50%)
	$(FCNN) train experiment=ex5_2

clean: ## remove run outputs and caches (not .venv, not the MNIST data)
	rm -rf outputs multirun .pytest_cache .ruff_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
