"""`fcnn report` in process (the same dispatcher as the installed command, on run directories made
here): finished, diverged, unfinished and broken runs side by side, sorting, the files it writes,
Optuna results, and one-line errors for bad input. On real runs and sweeps, and its exit status
from the installed command: tests/cli/test_report.py (sweeps themselves: tests/cli/test_sweeps.py)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from fcnn_cli.commands.report import collect


def _fake_run(path: Path, *, metrics: dict | str | None, lr: float = 0.1,
              overrides: list[str] | None = None, momentum: float = 0.0,
              train_accs: tuple[float, ...] = (0.7, 0.8, 0.9)) -> Path:
    """A run directory as `fcnn train` leaves it; metrics=None: training never finished."""
    (path / ".hydra").mkdir(parents=True)
    (path / ".hydra" / "config.yaml").write_text(
        f"backend:\n  name: numpy\ndataset:\n  name: digits\nstruct: [32]\noptimizer:\n"
        f"  name: sgd\n  momentum: {momentum}\nlr: {lr}\nannealing: 0.9\nbatch_size: 16\n"
        "max_epochs: 3\n")
    (path / ".hydra" / "overrides.yaml").write_text(
        "".join(f"- {o}\n" for o in (overrides or [f"lr={lr}"])))
    if isinstance(metrics, dict):
        full = {"backend": "numpy", "dataset": "digits", "struct": [32], "optimizer": "sgd",
                "lr": lr, "annealing": 0.9, "batch_size": 16, "max_epochs": 3,
                "epochs_completed": 3, "status": "completed", "train_acc": 0.9,
                "val_acc": None, "test_acc": 0.8, "fit_seconds": 0.6, "train_loss": 0.3, **metrics}
        (path / "metrics.json").write_text(json.dumps(full))
        a1, a2, a3 = train_accs
        (path / "curves.csv").write_text(
            "epoch,lr,train_loss,train_acc,test_acc,seconds\n"
            f"1,{lr},0.9,{a1},0.6,0.1\n2,{lr},0.5,{a2},0.7,0.2\n3,{lr},0.3,{a3},{full['test_acc']},0.3\n")
    elif isinstance(metrics, str):
        (path / "metrics.json").write_text(metrics)  # a damaged file
    return path


@pytest.fixture
def runs(tmp_path) -> Path:
    root = tmp_path / "sweep"
    _fake_run(root / "0", metrics={"test_acc": 0.81}, lr=0.05)
    _fake_run(root / "1", metrics={"test_acc": 0.93, "val_acc": 0.9}, lr=0.2, momentum=0.9,
              train_accs=(0.95, 0.99, 1.0))
    _fake_run(root / "2", metrics={"status": "diverged", "test_acc": 0.1, "epochs_completed": 1},
              lr=5.0)
    _fake_run(root / "3", metrics=None, lr=0.3)
    _fake_run(root / "10", metrics="{not json", lr=0.4)
    return root


def _csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_every_kind_of_run_gets_a_row(runs, fcnn_here):
    proc = fcnn_here("report", str(runs))
    assert proc.returncode == 0, proc.stderr
    rows = _csv(runs / "report.csv")
    # Natural order of sweep subdirectories: 10 after 3.
    assert [r["run"] for r in rows] == ["0", "1", "2", "3", "10"]
    assert [r["status"] for r in rows] == ["completed", "completed", "diverged", "unfinished",
                                          "failed"]
    # A run without metrics still shows what it was asked to do, from its Hydra config.
    assert rows[3]["lr"] == "0.3" and rows[3]["backend"] == "numpy" and rows[3]["test_acc"] == ""
    assert rows[2]["epochs"] == "1" and rows[2]["max_epochs"] == "3"
    for word in ("completed", "diverged", "unfinished", "failed", "93.00"):
        assert word in proc.stdout
    md = (runs / "report.md").read_text()
    assert md.count("\n| ") == 1 + 5  # header and five rows
    assert "| 1/3 |" in md  # epochs done of planned, for the diverged run
    assert (runs / "report.png").stat().st_size > 10_000
    # Convergence columns: the first epoch at 99% training accuracy, seconds per epoch, loss;
    # the optimizer as configured.
    assert [r["epochs_to_99"] for r in rows[:2]] == ["", "2"]
    assert float(rows[0]["s_per_epoch"]) == pytest.approx(0.2)
    assert float(rows[0]["train_loss"]) == pytest.approx(0.3)
    assert [r["optimizer"] for r in rows[:2]] == ["sgd", "sgd momentum 0.9"]
    assert "| 2 |" in md and "ep to 99%" in md and "s/epoch" in md


def test_sort_by_accuracy_is_best_first_and_reversible(runs, tmp_path, fcnn_here):
    assert fcnn_here("report", str(runs), "--sort", "test_acc", "--no-plot").returncode == 0
    order = [r["run"] for r in _csv(runs / "report.csv")]
    assert order[:3] == ["1", "0", "2"]  # 93%, 81%, 10%; then the runs without a test accuracy
    assert set(order[3:]) == {"3", "10"}
    out = tmp_path / "elsewhere"
    proc = fcnn_here("report", str(runs), "--sort", "test_acc", "--reverse", "--out", str(out),
                    "--no-plot")
    assert proc.returncode == 0, proc.stderr
    assert [r["run"] for r in _csv(out / "report.csv")][:3] == ["2", "0", "1"]
    assert not (out / "report.png").exists()
    # Ascending for other columns.
    assert fcnn_here("report", str(runs), "--sort", "lr", "--no-plot").returncode == 0
    lrs = [float(r["lr"]) for r in _csv(runs / "report.csv")]
    assert lrs == sorted(lrs)


def test_optuna_best_trial_is_named(runs, fcnn_here):
    (runs / "optimization_results.yaml").write_text(
        "name: optuna\nbest_params:\n  lr: 0.2\nbest_value: 0.9\n")
    proc = fcnn_here("report", str(runs), "--no-plot")
    assert proc.returncode == 0, proc.stderr
    assert "best parameters: lr=0.2" in proc.stdout
    assert "best run: 1 (test accuracy 93.00%)" in proc.stdout
    rows = _csv(runs / "report.csv")
    assert [r["run"] for r in rows if r["best"] == "1"] == ["1"]
    assert "best value 0.9000" in (runs / "report.md").read_text()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["/nonexistent/runs"], "/nonexistent/runs: no such directory"),
        (["RUNS", "--sort", "accuracy"], "unknown column 'accuracy'"),
        (["RUNS", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_input_is_one_line_exit_2(runs, args, fragment, fcnn_here):
    proc = fcnn_here("report", *(str(runs) if a == "RUNS" else a for a in args))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fcnn: error: report:"), proc.stderr
    assert fragment in lines[0]


def test_sort_keeps_missing_values_last():
    def run(name, acc):
        r = collect.Run(Path(name), name=name)
        r.row = {"run": name, "test_acc": acc}
        return r

    runs = [run("a", None), run("b", 0.5), run("c", 0.9), run("d", float("nan"))]
    assert [r.name for r in collect.sort_runs(runs, "test_acc")] == ["c", "b", "a", "d"]
    assert [r.name for r in collect.sort_runs(runs, "test_acc", reverse=True)][:2] == ["b", "c"]
