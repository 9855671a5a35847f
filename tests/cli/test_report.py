"""`fcnn report` as the installed command: on a real run given directly, on a real seed sweep
folded by --group-by seed, and its exit status and one line for a directory without runs. The
table's logic in process: tests/unit/test_report_render.py and tests/unit/test_report_groups.py."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import DIGITS_FAST, NUMPY_FAST, read_metrics, run_fcnn, train_here


def _csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _rows(directory: Path) -> list[dict[str, str]]:
    return _csv(directory / "report.csv")


def test_a_real_run_and_a_run_given_directly(tmp_path):
    run_dir = tmp_path / "single"
    assert train_here(*DIGITS_FAST, f"hydra.run.dir={run_dir}").returncode == 0
    proc = run_fcnn("report", str(run_dir), "--out", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    (row,) = _csv(tmp_path / "r" / "report.csv")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert row["run"] == "single" and row["struct"] == "[32]" and row["epochs"] == "3"
    assert float(row["test_acc"]) == pytest.approx(metrics["test_acc"])
    assert float(row["fit_seconds"]) == pytest.approx(metrics["fit_seconds"])


def test_empty_directory_is_an_error(tmp_path):
    proc = run_fcnn("report", str(tmp_path))
    assert proc.returncode == 2
    assert "no run directories" in proc.stderr


def test_real_seed_sweep_folds_into_one_row(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_fcnn("train", "-m", *NUMPY_FAST, "seed=1,2,3", f"hydra.sweep.dir={sweep}")
    assert proc.returncode == 0, proc.stderr
    tests = [read_metrics(sweep / str(i))["test_acc"] for i in range(3)]
    assert len(set(tests)) > 1  # the seeds do change the result
    proc = run_fcnn("report", str(sweep), "--group-by", "seed", "--no-plot")
    assert proc.returncode == 0, proc.stderr
    (row,) = _rows(sweep)
    assert row["seed"] == "1,2,3" and row["n"] == "3" and row["run"] == "0,1,2"
    assert float(row["test_acc"]) == pytest.approx(np.mean(tests))
    assert float(row["test_acc_std"]) == pytest.approx(np.std(tests, ddof=1))


def test_bench_directories_are_no_runs(tmp_path, fcnn_here):
    """`fcnn report outputs` over a run and a real `fcnn bench` (and a bench stopped before its
    bench.json): one row, the run's, and one line naming what it left out; a directory of benches
    alone is refused, saying so."""
    outputs = tmp_path / "outputs"
    assert train_here(*NUMPY_FAST, "plot=false",
                    f"hydra.run.dir={outputs / 'run'}").returncode == 0
    bench = run_fcnn("bench", "dataset=digits", "backends=[numpy]", "struct=[8]", "repeats=1",
                     "warmup=0", "floor_matmul_size=64", "floor_repeats=1",
                     f"hydra.run.dir={outputs / 'bench' / 'bench'}")
    assert bench.returncode == 0, bench.stderr
    shutil.copytree(outputs / "bench" / "bench", outputs / "bench" / "stopped")
    (outputs / "bench" / "stopped" / "bench.json").unlink()
    (outputs / "bench" / "stopped" / "bench.md").unlink()

    result = fcnn_here("report", str(outputs), "--no-plot")
    assert result.returncode == 0, result.stderr
    assert [row["run"] for row in _rows(outputs)] == ["run"]
    assert "unfinished" not in result.stdout
    assert (f"left out 2 `fcnn bench` directories ({outputs / 'bench' / 'bench'}, ...): a "
            "bench's results are in its bench.md") in result.stdout

    result = fcnn_here("report", str(outputs / "bench"))
    assert result.returncode == 2
    assert "no run directories" in result.stderr and "left out 2 `fcnn bench`" in result.stderr
