"""The gemm floor of `fcnn bench` (fcnn_cli/commands/bench/gemm_floor.py): the job's own products, in
the shapes and order the numpy backend runs them, add up to the job's FLOP; and the bench's
report shows "x gemm floor" beside "x floor"."""

from __future__ import annotations

import numpy as np
import pytest

from fcnn_cli.commands.bench import floor, gemm_floor, render
from fcnn_cli.commands.bench.gemm_floor import Product


def test_one_step_of_the_timing_job_is_eight_products_in_the_backends_order():
    products = gemm_floor.step_products([784, 500, 250, 10], 100)
    assert products == [
        Product("forward 1", 100, 784, 500), Product("forward 2", 100, 500, 250),
        Product("forward 3", 100, 250, 10),
        Product("error 2", 100, 10, 250, b_transposed=True),  # E W3^T
        Product("weight gradient 3", 250, 100, 10, a_transposed=True),  # Z2^T E
        Product("error 1", 100, 250, 500, b_transposed=True),
        Product("weight gradient 2", 500, 100, 250, a_transposed=True),
        Product("weight gradient 1", 784, 100, 500, a_transposed=True),  # no error for the input
    ]
    # per row: forward 2F, weight gradients 2F, errors 2P (F, P as in bench.job_gflop)
    assert sum(p.flop for p in products) == 100 * (4 * 519_500 + 2 * 127_500)


def test_softmax_regression_has_no_error_pass():
    assert [p.what for p in gemm_floor.step_products([64, 10], 32)] == ["forward 1", "weight gradient 1"]


@pytest.mark.parametrize(("sizes", "n_train", "batch", "chunk", "epochs"), [
    ([784, 500, 250, 10], 60_000, 100, 8192, 3),  # the timing job: 600 steps, 7 chunks + 2656 rows
    ([64, 64, 10], 1437, 100, 8192, 2),  # a last, smaller batch; one chunk of every row
    ([64, 10], 1000, 1000, 300, 1),
])
def test_the_plan_adds_up_to_the_jobs_flop(sizes, n_train, batch, chunk, epochs):
    plan = gemm_floor.job_plan(sizes, n_train, batch, chunk, epochs)
    assert gemm_floor.plan_flop(plan) == pytest.approx(floor.job_gflop(sizes, n_train, epochs) * 1e9)
    steps = sum(count for what, _, count in plan if "step" in what)
    assert steps == epochs * -(-n_train // min(batch, n_train))


def test_the_timing_jobs_plan():
    plan = gemm_floor.job_plan([784, 500, 250, 10], 60_000, 100, 8192, 3)
    assert [(what, len(products), count) for what, products, count in plan] == [
        ("step, batch 100", 8, 1800), ("scoring, 8192 rows", 3, 21), ("scoring, last 2656 rows", 3, 3)]


def test_timing_uses_the_operand_layouts():
    operands = gemm_floor._operands(gemm_floor.step_products([6, 5, 4], 3), np.dtype("float32"),
                                    np.random.default_rng(0))
    for (a, b, out), p in zip(operands, gemm_floor.step_products([6, 5, 4], 3), strict=True):
        assert a.shape == (p.m, p.k) and b.shape == (p.k, p.n) and out.shape == (p.m, p.n)
        assert a.flags.c_contiguous != p.a_transposed and b.flags.c_contiguous != p.b_transposed
    measured = gemm_floor.measure(gemm_floor.job_plan([16, 8, 4], 50, 10, 20, 1), repeats=2)
    sequences = measured["sequences"]
    assert measured["seconds"] == pytest.approx(sum(s["count"] * s["ms"] / 1e3 for s in sequences))
    assert all(s["ms"] > 0 and s["gflops_rate"] > 0 for s in measured["sequences"])


def test_markdown_shows_x_gemm_floor():
    result = {"backend": "numpy", "device": "cpu", "fit_min": 5.0, "fit_median": 6.0,
              "ratio_to_floor": 2.0, "ratio_to_gemm_floor": 1.5, "predict_median": 0.1,
              "compile_seconds": 0.0, "test_acc": 0.97}
    report = {"dataset": "mnist", "n_train": 60000, "repeats": 3, "warmup": 1,
              "job": {"struct": [500, 250], "max_epochs": 3, "batch_size": 100, "lr": 0.1,
                      "annealing": 0.99, "dtype": "float32"},
              "floor": {"gflop": 607.0, "gflops_rate": 200.0, "seconds": 3.0, "matmul_size": 2048,
                        "gemm": {"seconds": 4.0, "dtype": "float32", "sequences": [
                            {"what": "step, batch 100", "count": 1800, "ms": 1.2, "gflops_rate": 190.0}]},
                        "measurements": [{"when": "before", "gflops_rate": 200.0, "gemm_seconds": 4.0},
                                         {"when": "after", "gflops_rate": 190.0, "gemm_seconds": 4.2}]},
              "machine": {"cpus": 2}, "results": [result]}
    md = render.markdown(report)
    header = next(line for line in md.splitlines() if line.startswith("| backend"))
    assert "| x floor | x gemm floor |" in header
    assert "| 2.00 | 1.50 |" in next(line for line in md.splitlines() if line.startswith("| numpy"))
    assert ("gemm floor: the job's own float32 matrix products alone through numpy (step, batch "
            "100 1.200 ms x 1800") in md
    assert "= 4.00 s, the best of 2: 4.00 s, 4.20 s" in md
