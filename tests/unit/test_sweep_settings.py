"""What a sweep is set up with, in process: the value a run returns to a sweeper (validation,
then training accuracy, never test accuracy), and the slurm launcher preset's composed defaults.
The sweeps themselves, as real subprocesses: tests/cli/test_sweeps.py (both tests here keep that
file's `slow` mark)."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from fcnn_cli.training.objective import objective


@pytest.mark.slow
def test_objective_is_validation_then_training_accuracy_never_test():
    base = {"status": "completed", "train_acc": 0.9, "test_acc": 0.99}
    assert objective({**base, "val_acc": 0.8}) == 0.8
    assert objective({**base, "val_acc": None}) == 0.9
    assert objective({**base, "val_acc": 0.8, "status": "diverged"}) == 0.0


@pytest.mark.slow
def test_slurm_preset_composes_with_documented_defaults(compose_config):
    cfg = compose_config("hydra/launcher=slurm", "hydra.launcher.partition=gpu",
                         return_hydra_config=True)
    launcher = OmegaConf.to_container(cfg.hydra.launcher)  # as `--cfg hydra --package hydra.launcher`
    # fcnn's subclass of the plugin's SlurmLauncher (it survives a dead job; test_sweep_failures)
    assert launcher["_target_"] == "hydra_plugins.fcnn_sweeps.SurvivingSlurmLauncher"
    assert launcher["partition"] == "gpu"
    for key in ("timeout_min", "cpus_per_task", "mem_gb", "array_parallelism"):
        assert isinstance(launcher[key], int) and launcher[key] > 0
