"""`make record` end to end on digits with a tiny budget, as tests/cli/test_make_best.py does
`make best` (a file of its own: pytest-xdist's loadfile runs a file's tests on one worker)."""

from __future__ import annotations

import subprocess
import uuid

import pytest
import yaml
from helpers import REPO

from fcnn_cli.config.validate import from_config


@pytest.mark.slow
def test_make_record_on_digits(tmp_path):
    """`make record`: the search around experiments/record.yaml (distortions and regularisation)
    on a smaller net than the recipe's (RECORD_SEARCH_ARGS), the best trial written with its
    provenance and set to the net it is for (RECORD_SET), trained over seeds, mean ± std."""
    name = f"record_test_{uuid.uuid4().hex[:8]}"
    recipe = REPO / "experiments" / f"{name}.yaml"
    out = tmp_path / "record"
    record_before = (REPO / "experiments" / "record.yaml").read_text()
    try:
        result = subprocess.run(
            ["make", "-o", ".venv/.installed", "record", "RECORD_DATA=digits", "RECORD_TRIALS=2",
             "RECORD_EPOCHS=2", "RECORD_FINAL_EPOCHS=3", f"RECORD_NAME={name}", f"RECORD_DIR={out}",
             "SEEDS=1,2", "RECORD_SEARCH_ARGS=backend=numpy struct=[16] "
             "hydra.sweeper.sampler.n_startup_trials=2", "RECORD_SET=struct=[24,24]",
             "RECORD_ARGS=backend=numpy"],
            cwd=REPO, capture_output=True, text=True, timeout=1200)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        text = recipe.read_text()
        assert f"search: {out / 'search'}" in text and "best trial: " in text
        assert "trials of 2 epochs; the recipe trains 3 (--epochs)" in text
        assert "set after the search (--set): struct=[24, 24]" in text
        body = yaml.safe_load(text)
        assert body["struct"] == [24, 24] and body["max_epochs"] == 3
        # The search's strengths, not record.yaml's, are the recipe's.
        trials = [yaml.safe_load(p.read_text()) for p in (out / "search").glob("[0-9]*/.hydra/config.yaml")]
        assert len(trials) == 2 and all(t["val_fraction"] == 0.1 and t["struct"] == [16] for t in trials)
        assert body["augment"]["elastic"]["alpha"] in {t["augment"]["elastic"]["alpha"] for t in trials}
        seeds = sorted((out / "seeds").glob("[0-9]*/.hydra/config.yaml"))
        assert len(seeds) == 2
        for seed in seeds:
            s = from_config(yaml.safe_load(seed.read_text()))
            assert s.val_fraction == 0.0 and s.dataset == "digits" and s.struct == (24, 24)
        assert "±" in result.stdout
        # The committed recipe is not touched by a make record under another name.
        assert (REPO / "experiments" / "record.yaml").read_text() == record_before
    finally:
        recipe.unlink(missing_ok=True)


@pytest.mark.slow
def test_make_record_pure_trains_the_adversarial_recipe_over_seeds(tmp_path):
    """`make record-pure`: experiments/record_pure.yaml as it is (adversarial training, no
    dropout, no shifts or distortions) over SEEDS, then mean ± std; on digits, few epochs."""
    out = tmp_path / "record"
    result = subprocess.run(
        ["make", "-o", ".venv/.installed", "record-pure", f"RECORD_DIR={out}", "SEEDS=1,2",
         "RECORD_ARGS=dataset=digits max_epochs=2 struct=[32] batch_size=32"],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    seeds = sorted((out / "seeds-pure").glob("[0-9]*/.hydra/config.yaml"))
    assert len(seeds) == 2
    for seed in seeds:
        s = from_config(yaml.safe_load(seed.read_text()))
        assert (s.adversarial_eps, s.adversarial_norm, s.adversarial_weight) == (0.1, "linf", 0.5)
        assert s.dropout_hidden == s.dropout_input == 0 and s.augment_shift == 0
        assert s.distortion.elastic_alpha == 0 and s.max_norm == 2.5 and s.dataset == "digits"
    assert "±" in result.stdout
