"""`fcnn bench`'s arithmetic and report, in process: the job's FLOP, the floor (the fastest library
at any point, noisy only when its own repeats disagree), the plain sentence, the table fitted to
80 columns and bench.md. A real bench on digits, its files and bad options: tests/cli/test_bench.py."""

from __future__ import annotations

import pytest

from fcnn_cli.commands.bench import floor, render


def test_job_gflop_of_the_lab_timing_job():
    # MNIST [500,250], 3 epochs: forward, weight gradients, error propagation above the input
    # layer and the curve evaluation on the whole training set: about 607 GFLOP.
    assert floor.job_gflop([784, 500, 250, 10], 60_000, 3) == pytest.approx(606.96, abs=0.01)
    # Softmax regression: no error propagation; 6 FLOP per weight, sample and epoch.
    assert floor.job_gflop([64, 10], 1000, 2) == pytest.approx(6 * 640 * 1000 * 2 / 1e9)


@pytest.mark.parametrize("library", ["numpy", "xla"])
def test_each_librarys_product_is_timed(library):
    m = floor.measure([library], size=128, repeats=3, when="before")
    rates = m["rates"][library]
    assert len(rates) == 3 and all(0.01 < r < 1e6 for r in rates)
    assert m["gflops_rate"] == max(rates) and m["when"] == "before"


def _measurement(when, **rates):
    return {"when": when, "rates": rates, "gflops_rate": max(max(r) for r in rates.values())}


def test_the_floor_is_the_fastest_library_at_any_point():
    # numpy held to an old kernel (100-ish), XLA at the CPU's width (300-ish): XLA's best counts,
    # measured "after"; numpy's best is kept beside it.
    measurements = [_measurement("before", numpy=[100, 98, 99], xla=[290, 295, 288]),
                    _measurement("after", numpy=[101, 97, 99], xla=[300, 296, 297])]
    f = floor.combine(measurements, gflop=600.0)
    assert f["library"] == "xla"
    assert f["gflops_rate"] == 300 and f["seconds"] == pytest.approx(2.0)
    assert f["libraries"]["numpy"]["gflops_rate"] == 101
    assert f["libraries"]["xla"]["median_gflops_rate"] == pytest.approx(295.5)
    assert not f["noisy"] and f["spread"] == pytest.approx(1 - 295.5 / 300)
    # So a backend on either library is at or above 1.0 on a quiet machine.
    assert floor.ratio(2.2, f) == {"ratio_to_floor": pytest.approx(1.1), "noisy_floor": False,
                                   "below_floor": False}


def test_noisy_only_when_the_floors_own_repeats_disagree():
    # The slower library's spread does not matter: only the winner's repeats make the floor.
    steady = [_measurement("before", numpy=[300, 296, 298, 299], xla=[200, 50, 90, 120])]
    assert not floor.combine(steady, 600.0)["noisy"]
    # The winner's repeats: best 300, median 250 -> 17% apart: noisy.
    busy = [_measurement("before", numpy=[300, 250, 240, 260, 200], xla=[150, 150, 150])]
    f = floor.combine(busy, 600.0)
    assert f["noisy"] and f["spread"] == pytest.approx(1 - 250 / 300)
    # Within the tolerance: not noisy.
    edge = [_measurement("before", numpy=[300, 300 * (1 - floor.NOISE) + 1, 290])]
    assert not floor.combine(edge, 600.0)["noisy"]
    # A ratio below 1.0 is flagged by what the floor says of itself, not by its value.
    assert floor.ratio(0.9, f)["noisy_floor"] and floor.ratio(0.9, f)["below_floor"]
    assert floor.ratio(3.0, f)["noisy_floor"] and not floor.ratio(3.0, f)["below_floor"]


def _report(dataset="mnist", noisy=False, lab=True, results=None):
    results = results or [
        {"backend": "numpy", "device": "cpu", "optimizer": "sgd", "lr": 0.1, "fit_min": 1.9,
         "fit_median": 2.04, "predict_median": 0.038, "compile_seconds": 0.0, "test_acc": 0.9684,
         "ratio_to_gemm_floor": 1.3},
        {"backend": "jax", "device": "cpu", "optimizer": "sgd", "lr": 0.1, "fit_min": 2.2,
         "fit_median": 2.31, "predict_median": 0.051, "compile_seconds": 0.49, "test_acc": 0.9678,
         "ratio_to_gemm_floor": 1.5},
        {"backend": "jax-grad", "device": "cpu", "optimizer": "sgd", "lr": 0.1, "fit_min": 2.3,
         "fit_median": 2.40, "predict_median": 0.047, "compile_seconds": 0.52, "test_acc": 0.9678,
         "ratio_to_gemm_floor": 1.6},
        {"backend": "sklearn", "device": "cpu", "optimizer": "sgd", "lr": 0.1, "fit_min": 5.0,
         "fit_median": 5.10, "predict_median": 0.038, "compile_seconds": 0.0, "test_acc": 0.9672,
         "ratio_to_gemm_floor": 3.2},
    ]
    f = {"gflop": 607.0, "gflops_rate": 478.0, "seconds": 607.0 / 478.0, "library": "xla",
         "libraries": {"numpy": {"title": "numpy's BLAS", "gflops_rate": 410.0},
                       "xla": {"title": "XLA", "gflops_rate": 478.0}},
         "spread": 0.25 if noisy else 0.02, "noisy": noisy, "matmul_size": 2048,
         "gemm": {"seconds": 1.6, "dtype": "float32", "sequences": [
             {"what": "step, batch 100", "count": 1800, "ms": 0.8, "gflops_rate": 250.0}]},
         "measurements": [{"when": "before", "gflops_rate": 470.0, "gemm_seconds": 1.7},
                          {"when": "after", "gflops_rate": 478.0, "gemm_seconds": 1.6}]}
    for r in results:
        r.update(floor.ratio(r["fit_median"], f))
    report = {"dataset": dataset, "n_train": 60000, "repeats": 3, "warmup": 1,
              "job": {"struct": [500, 250], "max_epochs": 3, "batch_size": 100, "lr": 0.1,
                      "annealing": 0.99, "dtype": "float32", "optimizer": "sgd"},
              "floor": f, "machine": {"cpus": 2}, "results": results,
              "blas": {"internal_api": "openblas", "version": "0.3.31", "architecture": "SkylakeX",
                       "num_threads": 2},
              "versions": {"jax": "0.10.2"}}
    if lab:
        report["lab"] = render.LAB_TIMING
    return report


def test_the_report_leads_with_a_plain_sentence():
    assert render.sentence(_report()) == (
        "numpy trains the lab's timing job in 2.04 s, 1.6x the least time this CPU needs for its "
        "arithmetic (1.27 s); jax 2.31 s (1.8x), jax-grad 2.40 s (1.9x), sklearn 5.10 s (4.0x).")
    assert render.sentence(_report("digits")).startswith(
        "numpy trains the timing job (digits, struct [500, 250], 3 epochs) in 2.04 s")


def test_the_table_fits_80_columns_and_names_what_it_left_out(capsys):
    report = _report()
    render.print_report(report, width=80)
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "…" not in out  # nothing cut
    header = next(line for line in out.splitlines() if line.startswith("backend"))
    # The ratios and the accuracy get room first; the lab's figures next.
    for column in ("fit s", "x floor", "test acc", "lab / ours"):
        assert column in header
    left_out = " ".join(out[out.index("left out for width:"):].split())
    assert left_out.startswith("left out for width: fit min s, predict ms, compile s, lab predict "
                               "ms, lab test acc (bench.md has every column)")
    row = next(line for line in out.splitlines() if line.startswith("jax "))
    assert "2.31" in row and "1.82" in row and "96.78%" in row and "12.5x" in row  # 28.8 / 2.31
    # Wide enough, every column is there and nothing is left out.
    render.print_report(report, width=250)
    wide = capsys.readouterr().out
    assert "left out" not in wide and "fit min s" in wide


def test_columns_that_fit_keep_the_first_and_the_order():
    columns = render.result_columns(_report(lab=False))
    rows = _report(lab=False)["results"]
    # "jax-grad" (8), "fit s" (5), "x floor" (7), two spaces between: 24 columns.
    shown, left_out = render.columns_that_fit(columns, rows, 24)
    assert [c.header for c in shown] == ["backend", "fit s", "x floor"]
    assert {c.header for c in left_out} == {c.header for c in columns} - {"backend", "fit s", "x floor"}
    shown, _ = render.columns_that_fit(columns, rows, 23)
    assert [c.header for c in shown] == ["backend", "fit s"]
    shown, _ = render.columns_that_fit(columns, rows, 3)
    assert [c.header for c in shown] == ["backend"]  # never an empty table


def test_a_noisy_floor_marks_every_ratio_and_says_why():
    report = _report(noisy=True)
    md = render.markdown(report)
    row = next(line for line in md.splitlines() if line.startswith("| jax |"))
    assert "| 1.82 (noisy floor) |" in row
    assert "noisy floor: its own repeats disagree (25% between their median and their best)" in md
    lines = render.warnings_lines(report)
    assert lines[0].startswith("* noisy floor")
    quiet = render.markdown(_report())
    assert "noisy" not in quiet and "below the floor" not in quiet


def test_a_ratio_below_a_steady_floor_is_named_as_such():
    report = _report()
    fast = report["results"][0]
    fast.update(fit_median=1.0, **floor.ratio(1.0, report["floor"]))
    md = render.markdown(report)
    assert "0.79 (below the floor)" in md and "below the floor: a ratio below 1.0 with a steady" in md


def test_markdown_keeps_every_column_and_the_lab_numbers():
    md = render.markdown(_report())
    header = next(line for line in md.splitlines() if line.startswith("| backend"))
    assert header == ("| backend | device | optimizer | fit min s | fit median s | x floor | "
                      "x gemm floor | predict ms | compile s | test acc | lab fit s | "
                      "lab predict ms | lab test acc | lab / ours |")
    row = next(line for line in md.splitlines() if line.startswith("| jax |"))
    assert "28.8 (P100 GPU)" in row and "| 17.2 |" in row and "12.5x" in row
    assert "floor: 607 GFLOP at 478.0 GFLOP/s, the fastest float32 2048x2048 product of any " \
        "library in the run: XLA (each library's best of 2 measurement(s) through the run: " \
        "numpy's BLAS 410, XLA 478; 2 cores) = 1.27 s" in md
    assert "numpy's BLAS: OpenBLAS 0.3.31, SkylakeX kernel, 2 threads; XLA: jax 0.10.2" in md
    assert "not comparable" not in md
    assert "not comparable" in render.markdown(_report("digits"))


def test_the_sentence_speaks_of_the_jobs_optimizer_not_its_sgd_reference():
    sgd = {"backend": "numpy", "device": "cpu", "optimizer": "sgd", "lr": 0.1, "fit_min": 2.0,
           "fit_median": 2.0, "predict_median": 0.04, "compile_seconds": 0.0, "test_acc": 0.97,
           "ratio_to_gemm_floor": 1.3}
    adam = {**sgd, "optimizer": "adam", "lr": 0.001, "fit_median": 3.0, "ratio_to_sgd": 1.5}
    report = _report(results=[sgd, adam], lab=False)
    report["job"]["optimizer"] = "adam"
    assert render.sentence(report).startswith("numpy trains the lab's timing job with adam in 3.00 s, "
                                              "2.4x the least time")
    md = render.markdown(report)
    assert "| numpy | cpu | adam, lr 0.001 |" in md and "| 1.50 |" in md
