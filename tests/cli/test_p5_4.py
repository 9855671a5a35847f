"""Lab Problem 5.4 (`make p5.4`): its three experiments share the network, seed and schedule and
differ only in the optimizer and its learning rate; the pipeline (a sweep over them, then
`fcnn report` with the convergence columns and the overlaid curves) runs end to end on digits.
That the three differ only in the optimizer: tests/unit/test_compose.py."""

from __future__ import annotations

import csv

import pytest
from helpers import run_fcnn

RUNS = ("p5_4_sgd", "p5_4_momentum", "p5_4_adam")


@pytest.mark.slow
def test_the_pipeline_on_digits(tmp_path):
    sweep = tmp_path / "p5_4"
    proc = run_fcnn("train", "-m", "experiment=" + ",".join(RUNS), "dataset=digits", "struct=[32]",
                    "max_epochs=6", "progress=false", "plot=false", f"hydra.sweep.dir={sweep}")
    assert proc.returncode == 0, proc.stderr
    proc = run_fcnn("report", str(sweep))
    assert proc.returncode == 0, proc.stderr
    with open(sweep / "report.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["optimizer"] for r in rows] == ["sgd", "sgd momentum 0.9", "adam"]
    for row in rows:
        # Each learned (chance is 0.1): MNIST's learning rates are not tuned for 6 epochs of digits.
        assert row["status"] == "completed" and float(row["test_acc"]) > 0.3
        assert float(row["s_per_epoch"]) > 0 and float(row["train_loss"]) > 0
        with open(f"{row['path']}/curves.csv", newline="") as f:
            accs = [float(r["train_acc"]) for r in csv.DictReader(f)]
        first = next((epoch for epoch, acc in enumerate(accs, 1) if acc >= 0.99), None)
        assert row["epochs_to_99"] == ("" if first is None else str(first))
    assert (sweep / "report.png").stat().st_size > 20_000
