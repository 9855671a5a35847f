"""`fcnn bench`'s arithmetic, in process: the floor's FLOP count, the matmul rate and the markdown
report. A real bench on digits, its files and bad options: tests/cli/test_bench.py."""

from __future__ import annotations

import pytest

from fcnn_cli.commands.bench import command as bench


def test_job_gflop_of_the_lab_timing_job():
    # MNIST [500,250], 3 epochs: forward, weight gradients, error propagation above the input
    # layer and the curve evaluation on the whole training set: about 607 GFLOP.
    assert bench.job_gflop([784, 500, 250, 10], 60_000, 3) == pytest.approx(606.96, abs=0.01)
    # Softmax regression: no error propagation; 6 FLOP per weight, sample and epoch.
    assert bench.job_gflop([64, 10], 1000, 2) == pytest.approx(6 * 640 * 1000 * 2 / 1e9)


def test_matmul_rate_is_positive_and_finite():
    rate = bench.matmul_gflops(size=128, repeats=2)
    assert 0.01 < rate < 1e6


def _report(dataset="mnist"):
    result = {"backend": "jax", "device": "cpu", "fit_min": 9.0, "fit_median": 10.0,
              "ratio_to_floor": 2.5, "predict_median": 0.04, "compile_seconds": 1.5,
              "test_acc": 0.968}
    return {"dataset": dataset, "n_train": 60000, "repeats": 3, "warmup": 1,
            "job": {"struct": [500, 250], "max_epochs": 3, "batch_size": 100, "lr": 0.1,
                    "annealing": 0.99, "dtype": "float32"},
            "floor": {"gflop": 607.0, "gflops_rate": 150.0, "seconds": 4.0, "matmul_size": 2048},
            "machine": {"cpus": 2}, "results": [result], "lab": bench.LAB_TIMING}


def test_a_ratio_below_one_is_flagged_as_a_noisy_floor():
    report = _report()
    report["results"][0].update(ratio_to_floor=0.93, noisy_floor=True)
    md = bench.markdown(report)
    row = next(line for line in md.splitlines() if line.startswith("| jax |"))
    assert "| 0.93 (noisy floor) |" in row
    assert "noisy floor: a ratio below 1.0" in md
    assert "noisy floor" not in bench.markdown(_report())


def test_markdown_puts_the_lab_numbers_next_to_ours():
    md = bench.markdown(_report())
    row = next(line for line in md.splitlines() if line.startswith("| jax |"))
    assert "| 10.00 |" in row and "| 2.50 |" in row and "| 40.0 |" in row
    assert "28.8 (P100 GPU)" in row and "| 17.2 |" in row and "2.9x" in row  # 28.8 s / 10 s
    assert "not comparable" not in md
    assert "not comparable" in bench.markdown(_report("digits"))
