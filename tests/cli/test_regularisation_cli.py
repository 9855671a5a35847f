"""Schedules, early stopping, augmentation, dropout and max-norm through the real CLI: a run
with all of them says in metrics.json where and why it stopped and records its rates in
curves.csv; each key's bad values (and the combinations that cannot be) are one line, exit 2;
and a run with all of them stopped by a real SIGINT and resumed ends on the same bits as the
same run uninterrupted. (Each feature in process: tests/unit/test_schedules.py,
test_early_stopping.py, test_augment.py, test_dropout.py.)"""

from __future__ import annotations

import csv
import signal
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_refused, interrupt_at_checkpoint, popen_fcnn, read_metrics, train_here

from fcnn_cli.config.validate import from_config
from fcnn_cli.core import schedules
from fcnn_cli.data import datasets

ALL = ("backend=numpy", "dataset=digits", "struct=[32]", "batch_size=8", "seed=2",
       "val_fraction=0.2", "schedule.name=cosine", "schedule.warmup_epochs=1",
       "schedule.min_lr=0.001", "early_stopping.patience=3", "augment.shift=1",
       "dropout.hidden=0.2", "dropout.input=0.1", "max_norm=3", "progress=false", "plot=false")


def _rows(run_dir: Path) -> list[dict]:
    with open(run_dir / "curves.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def test_a_run_with_everything_says_where_and_why_it_stopped(tmp_path):
    run_dir = tmp_path / "run"
    result = train_here(*ALL, "max_epochs=40", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    metrics = read_metrics(run_dir)
    stop = metrics["early_stopping"]
    rows = _rows(run_dir)
    assert stop["metric"] == "val_acc" and 1 <= stop["best_epoch"] <= len(rows)
    assert metrics["status"] == "completed" and metrics["epochs_completed"] == len(rows)
    if stop["reason"] is not None:  # stopped early: the last epochs did not improve
        assert stop["stopped_epoch"] == len(rows) < 40
        assert stop["reason"] == "no improvement of val_acc by 0.0001 in 3 epochs"
    best = rows[stop["best_epoch"] - 1]
    assert metrics["val_acc"] == float(best["val_acc"]) == max(float(r["val_acc"]) for r in rows)
    s = from_config({"lr": 0.1, "max_epochs": 40, "schedule": {"name": "cosine", "warmup_epochs": 1,
                                                                "min_lr": 0.001}})
    assert [float(r["lr"]) for r in rows] == [schedules.rate(s, e) for e in range(1, len(rows) + 1)]


@pytest.mark.parametrize(("args", "fragments"), [
    (("early_stopping.patience=3",), ("early_stopping.patience", "val_fraction")),
    (("backend=sklearn", "dropout.hidden=0.5"), ("dropout.hidden", "sklearn")),
    (("backend=sklearn", "max_norm=3"), ("max_norm", "sklearn")),
    (("augment.shift=8",), ("augment.shift", "below the image's side")),
    (("schedule.name=linear",), ("schedule.name", "exponential, step, cosine")),
    (("schedule.warmup_epochs=3",), ("schedule.warmup_epochs", "below max_epochs")),
    (("schedule.name=cosine", "schedule.min_lr=1"), ("schedule.min_lr", "below lr")),
    (("schedule.factor=0",), ("schedule.factor",)),
    (("dropout.input=1",), ("dropout.input",)),
    (("max_norm=0",), ("max_norm",)),
    (("early_stopping.patience=0", "val_fraction=0.1"), ("early_stopping.patience",)),
    (("early_stopping.min_delta=-1",), ("early_stopping.min_delta",)),
    (("early_stopping.restore_best=maybe",), ("early_stopping.restore_best",)),
])
def test_bad_values_are_one_line_exit_2(tmp_path, args, fragments):
    result = train_here("backend=numpy", "dataset=digits", "max_epochs=3", "progress=false",
                      *args, cwd=tmp_path)
    assert_refused(result, *fragments)
    assert not (tmp_path / "outputs").exists()


def test_sigint_then_resume_equals_the_uninterrupted_run(tmp_path):
    from omegaconf import OmegaConf

    from fcnn_cli.training.fit import fit

    run_dir = tmp_path / "run"
    # Early stopping is kept from stopping within the test's epochs (patience 30), but the best
    # epoch is still tracked, checkpointed and restored.
    proc = popen_fcnn("train", *ALL, "max_epochs=30", "early_stopping.patience=30",
                      "early_stopping.min_delta=0", f"hydra.run.dir={run_dir}")
    status, _, err = interrupt_at_checkpoint(proc, run_dir, signal.SIGINT)
    assert status == 130, err
    done = read_metrics(run_dir)["epochs_completed"]
    assert 1 <= done < 30

    resumed = train_here(f"resume={run_dir}")
    assert resumed.returncode == 0, resumed.stderr
    metrics = read_metrics(run_dir)
    assert metrics["resumed_from_epoch"] == done and metrics["epochs_completed"] == 30

    s = from_config(OmegaConf.load(run_dir / ".hydra" / "config.yaml"))
    data = datasets.load(s.dataset, s.dataset_path, s.dtype, s.val_fraction, s.seed, s.classes)
    backend, history = fit(s, data)
    with np.load(run_dir / "model.npz") as saved:
        for i, (w, b) in enumerate(backend.get_params()):  # the best epoch's, restored
            assert saved[f"W{i}"].tobytes() == w.tobytes() and saved[f"b{i}"].tobytes() == b.tobytes()
    rows = _rows(run_dir)
    assert len(rows) == len(history.records) == 30
    assert [{k: float(v) for k, v in row.items()} for row in rows] == [
        {k: float(record[k]) for k in rows[0]} for record in history.rows()]
    assert metrics["early_stopping"] == history.stop
    assert metrics["test_acc"] == history.kept.test_acc
