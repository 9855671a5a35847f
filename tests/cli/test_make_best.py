"""`make best` end to end on digits with a tiny budget: the Optuna search on the validation
accuracy, the recipe written with its provenance, the recipe trained over seeds on the full
training set, and the report's mean ± std. (Slow: a search and a seed sweep.)"""

from __future__ import annotations

import subprocess
import uuid

import pytest
import yaml
from helpers import REPO

from fcnn_cli.config.validate import from_config


@pytest.mark.slow
def test_make_best_on_digits(tmp_path):
    name = f"best_test_{uuid.uuid4().hex[:8]}"  # a recipe of its own, removed after
    recipe = REPO / "experiments" / f"{name}.yaml"
    out = tmp_path / "best"
    try:
        result = subprocess.run(
            ["make", "-o", ".venv/.installed", "best", "BEST_DATA=digits", "BEST_TRIALS=3",
             "BEST_EPOCHS=2", "BEST_FINAL_EPOCHS=3", f"BEST_NAME={name}", f"BEST_DIR={out}", "SEEDS=1,2",
             "BEST_ARGS=backend=numpy hydra.sweeper.sampler.n_startup_trials=2",
             "SEED_ARGS=backend=numpy"],
            cwd=REPO, capture_output=True, text=True, timeout=1200)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        text = recipe.read_text()
        # Provenance: the search directory and its best trial.
        assert f"search: {out / 'search'}" in text and "best trial: " in text
        body = yaml.safe_load(text)
        assert {"override /dataset": "digits"} in body["defaults"]
        # Searched with 2-epoch trials, trained 3 epochs (BEST_FINAL_EPOCHS), and it says so.
        assert "trials of 2 epochs; the recipe trains 3 (--epochs)" in text
        assert "val_fraction" not in body and body["max_epochs"] == 3
        for key in ("struct", "lr", "dropout", "max_norm", "schedule", "augment"):
            assert key in body
        # The search saw the validation set only; the seeds trained on the full training set.
        for trial in (out / "search").glob("[0-9]*/.hydra/config.yaml"):
            assert yaml.safe_load(trial.read_text())["val_fraction"] == 0.1
        seeds = sorted((out / "seeds").glob("[0-9]*/.hydra/config.yaml"))
        assert len(seeds) == 2
        for seed in seeds:
            s = from_config(yaml.safe_load(seed.read_text()))
            assert s.val_fraction == 0.0 and s.dataset == "digits" and s.max_epochs == 3
        assert "±" in result.stdout  # the report's mean ± std over the seeds
    finally:
        recipe.unlink(missing_ok=True)

