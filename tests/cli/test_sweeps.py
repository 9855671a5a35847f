"""Sweeps that scale out, as real subprocesses on digits: joblib in parallel, submitit (the SLURM
launcher's local twin), an Optuna search on validation accuracy, and `fcnn report` over them.
The objective a run returns and the slurm preset's composed defaults: tests/unit/test_sweep_settings.py."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from helpers import DIGITS_FAST, read_metrics, run_fcnn, run_fcnn_together

pytestmark = pytest.mark.slow


def _run_dirs(sweep_dir: Path) -> list[Path]:
    return sorted(p for p in sweep_dir.iterdir() if (p / ".hydra" / "config.yaml").is_file())


def _overrides(run_dir: Path) -> list[str]:
    return yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text())


@dataclass
class Sweeps:
    dirs: dict[str, Path]
    logs: dict[str, str]

    def __getitem__(self, name: str) -> Path:
        return self.dirs[name]


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory) -> Sweeps:
    """One joblib sweep, one slurm_local (submitit) sweep and one Optuna search, run at once, once
    for the module."""
    root = tmp_path_factory.mktemp("sweeps")
    dirs = {name: root / name for name in ("joblib", "submitit", "optuna")}
    commands = {
        "joblib": (
            "train", "-m", "hydra/launcher=local", "hydra.launcher.n_jobs=2",
            "backend=sklearn,numpy", "lr=0.05,0.1", *DIGITS_FAST,
            f"hydra.sweep.dir={dirs['joblib']}"),
        "submitit": (
            "train", "-m", "hydra/launcher=slurm_local", "backend=sklearn", "lr=0.05,0.2",
            *DIGITS_FAST, f"hydra.sweep.dir={dirs['submitit']}"),
        # No struct/batch_size on the command line: they are in the search space.
        "optuna": (
            "train", "hparams_search=optuna", "hydra.sweeper.n_trials=3", "dataset=digits",
            "max_epochs=3", "progress=false", f"hydra.sweep.dir={dirs['optuna']}"),
    }
    procs = dict(zip(commands, run_fcnn_together(*commands.values()), strict=True))
    for name, proc in procs.items():
        assert proc.returncode == 0, f"{name} sweep failed:\n{proc.stdout}\n{proc.stderr}"
    return Sweeps(dirs, {name: proc.stdout + proc.stderr for name, proc in procs.items()})


def test_joblib_sweep_runs_four_jobs_on_two_workers(sweeps):
    log = sweeps.logs["joblib"]
    assert "Joblib.Parallel(n_jobs=2" in log and "launching 4 jobs" in log
    runs = _run_dirs(sweeps["joblib"])
    assert [r.name for r in runs] == ["0", "1", "2", "3"]
    metrics = [read_metrics(r) for r in runs]
    assert all(m["status"] == "completed" for m in metrics)
    combos = {(m["backend"], m["lr"]) for m in metrics}
    assert combos == {("sklearn", 0.05), ("sklearn", 0.1), ("numpy", 0.05), ("numpy", 0.1)}
    # Each job's own overrides were applied in its own directory.
    for run, m in zip(runs, metrics, strict=True):
        assert f"backend={m['backend']}" in _overrides(run)


def test_submitit_local_sweep(sweeps):
    runs = _run_dirs(sweeps["submitit"])
    assert [r.name for r in runs] == ["0", "1"]
    assert sorted(read_metrics(r)["lr"] for r in runs) == [0.05, 0.2]
    # submitit ran each job as its own process and kept its logs next to the runs.
    assert len(list((sweeps["submitit"] / ".submitit").glob("*/*_0_log.out"))) == 2


def test_optuna_search_maximises_validation_accuracy(sweeps):
    results = yaml.safe_load((sweeps["optuna"] / "optimization_results.yaml").read_text())
    assert set(results["best_params"]) == {"struct", "lr", "batch_size", "annealing"}
    runs = _run_dirs(sweeps["optuna"])
    assert len(runs) == 3
    metrics = [read_metrics(r) for r in runs]
    # The preset holds out 10% for validation and the task returns val_acc, never test_acc.
    assert all(m["n_val"] > 0 and m["val_acc"] is not None for m in metrics)
    assert results["best_value"] == pytest.approx(max(m["val_acc"] for m in metrics))
    best = max(runs, key=lambda r: read_metrics(r)["val_acc"])
    overrides = _overrides(best)
    for key, value in results["best_params"].items():
        assert f"{key}={value}" in overrides
    # Search-space values reached the runs: struct lists parse back into layer sizes.
    assert all(isinstance(m["struct"], list) for m in metrics)


def test_report_over_all_sweeps(sweeps, tmp_path):
    # A run that never finished: Hydra wrote its config, training never wrote metrics.json.
    unfinished = sweeps["joblib"].parent / "stalled"
    (unfinished / ".hydra").mkdir(parents=True, exist_ok=True)
    (unfinished / ".hydra" / "config.yaml").write_text(
        "backend:\n  name: numpy\nstruct: [500, 250]\nlr: 0.1\nbatch_size: 10\nmax_epochs: 12\n")
    out = tmp_path / "report"
    dirs = [str(sweeps[name]) for name in ("joblib", "submitit", "optuna")]
    proc = run_fcnn("report", *dirs, str(unfinished), "--out", str(out), "--sort", "test_acc")
    assert proc.returncode == 0, proc.stderr
    with open(out / "report.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 + 2 + 3 + 1
    assert sum(r["status"] == "completed" for r in rows) == 9
    stalled = [r for r in rows if r["status"] == "unfinished"]
    assert len(stalled) == 1 and stalled[0]["run"] == "stalled"
    assert stalled[0]["backend"] == "numpy" and stalled[0]["test_acc"] == ""
    assert rows[-1]["status"] == "unfinished"  # no accuracy: sorted last
    tests = [float(r["test_acc"]) for r in rows[:-1]]
    assert tests == sorted(tests, reverse=True)  # accuracies best first
    assert sum(r["best"] == "1" for r in rows) == 1  # Optuna's best trial marked
    assert (out / "report.png").stat().st_size > 10_000
    md = (out / "report.md").read_text()
    assert md.count("| completed |") == 9 and "| unfinished |" in md
    assert "best parameters:" in md and "best parameters:" in proc.stdout
    assert "unfinished" in proc.stdout


def test_validation_fraction_reaches_curves_metrics_and_plot(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_fcnn("train", "backend=sklearn", "val_fraction=0.2", *DIGITS_FAST,
                    f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr
    metrics = read_metrics(run_dir)
    assert metrics["n_val"] == 288 and metrics["n_train"] == 1437 - 288
    with open(run_dir / "curves.csv", newline="") as f:
        curves = list(csv.DictReader(f))
    assert len(curves) == 3 and all(0 < float(r["val_acc"]) <= 1 for r in curves)
    assert float(curves[-1]["val_acc"]) == pytest.approx(metrics["val_acc"])
    # Without a validation set, there is no val_acc column and the metric is null.
    run_dir = tmp_path / "plain"
    assert run_fcnn("train", *DIGITS_FAST, f"hydra.run.dir={run_dir}").returncode == 0
    assert "val_acc" not in (run_dir / "curves.csv").read_text().splitlines()[0]
    assert json.loads((run_dir / "metrics.json").read_text())["val_acc"] is None
