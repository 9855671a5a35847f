"""`fcnn report --group-by seed`: runs that differ only in their seed folded into one row, each
accuracy as mean ± sample standard deviation (numpy as the oracle) over the completed runs; in
process, on run directories made here. A real seed sweep: tests/cli/test_report.py."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml


def _fake_run(path: Path, seed: int, lr: float, test_acc: float | None, status: str = "completed",
              with_config: bool = True) -> None:
    """A run directory as `fcnn train` leaves it: .hydra/config.yaml and metrics.json."""
    config = {"backend": {"name": "numpy"}, "dataset": {"name": "digits"}, "struct": [32],
              "lr": lr, "batch_size": 16, "max_epochs": 3, "seed": seed, "progress": False}
    path.mkdir(parents=True)
    if with_config:
        (path / ".hydra").mkdir()
        # Display switches differ between runs: they change no result, so they do not split rows.
        (path / ".hydra" / "config.yaml").write_text(yaml.safe_dump({**config, "plot": seed % 2 == 0}))
    metrics = {"backend": "numpy", "dataset": "digits", "struct": [32], "optimizer": "sgd", "lr": lr,
               "annealing": 0.9, "batch_size": 16, "max_epochs": 3, "seed": seed, "status": status,
               "epochs_completed": 3, "train_acc": None if test_acc is None else test_acc + 0.01,
               "test_acc": test_acc, "val_acc": None, "fit_seconds": 1.0 + seed}
    (path / "metrics.json").write_text(json.dumps(metrics))


def _rows(directory: Path) -> list[dict[str, str]]:
    with open(directory / "report.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_seeds_fold_into_mean_and_std(tmp_path, fcnn_here):
    accs = [0.9849, 0.9855, 0.9861, 0.9850, 0.9860]
    for seed, acc in enumerate(accs, start=1):
        _fake_run(tmp_path / f"a{seed}", seed, 0.1, acc)
    _fake_run(tmp_path / "a6", 6, 0.1, None, status="failed")  # not averaged, but counted
    _fake_run(tmp_path / "b1", 1, 0.2, 0.97)
    _fake_run(tmp_path / "b2", 2, 0.2, 0.96)
    proc = fcnn_here("report", str(tmp_path), "--group-by", "seed", "--sort", "test_acc")
    assert proc.returncode == 0, proc.stderr
    rows = _rows(tmp_path)
    assert len(rows) == 2
    first, second = rows  # best mean test accuracy first
    assert first["lr"] == "0.1" and first["seed"] == "1,2,3,4,5,6" and first["n"] == "5"
    assert first["status"] == "5 completed, 1 failed"
    assert float(first["test_acc"]) == pytest.approx(np.mean(accs))
    assert float(first["test_acc_std"]) == pytest.approx(np.std(accs, ddof=1))
    assert float(first["fit_seconds"]) == pytest.approx(np.mean([2, 3, 4, 5, 6]))
    assert second["lr"] == "0.2" and second["n"] == "2"
    assert float(second["test_acc_std"]) == pytest.approx(np.std([0.97, 0.96], ddof=1))
    shown = f"{100 * np.mean(accs):.2f} ± {100 * np.std(accs, ddof=1):.2f}"
    assert shown == "98.55 ± 0.06" and shown in proc.stdout
    assert "98.55 ± 0.06" in (tmp_path / "report.md").read_text()
    assert "mean ± standard deviation" in proc.stdout


def test_runs_without_config_fold_by_their_metrics(tmp_path, fcnn_here):
    for seed in (1, 2, 3):
        _fake_run(tmp_path / f"r{seed}", seed, 0.1, 0.9 + seed / 100, with_config=False)
    _fake_run(tmp_path / "other", 1, 0.3, 0.5, with_config=False)
    assert fcnn_here("report", str(tmp_path), "--group-by", "seed", "--no-plot").returncode == 0
    assert sorted(row["n"] for row in _rows(tmp_path)) == ["1", "3"]


def test_group_by_an_unknown_key_is_one_line(tmp_path, fcnn_here):
    _fake_run(tmp_path / "r1", 1, 0.1, 0.9)
    proc = fcnn_here("report", str(tmp_path), "--group-by", "sead")
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("fcnn: error: report: --group-by: no run has a config key 'sead' "
                                   "(for example seed, lr, backend.name)")
