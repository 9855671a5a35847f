"""`fcnn bench`: the floor's arithmetic, a real run on digits, the report files and bad options."""

from __future__ import annotations

import json

import pytest
from conftest import run_fcnn

from fcnn_cli.commands import bench


def test_job_gflop_of_the_lab_timing_job():
    # MNIST [500,250], 3 epochs: forward, weight gradients, error propagation above the input
    # layer and the curve evaluation on the whole training set: about 607 GFLOP.
    assert bench.job_gflop([784, 500, 250, 10], 60_000, 3) == pytest.approx(606.96, abs=0.01)
    # Softmax regression: no error propagation; 6 FLOP per weight, sample and epoch.
    assert bench.job_gflop([64, 10], 1000, 2) == pytest.approx(6 * 640 * 1000 * 2 / 1e9)


def test_matmul_rate_is_positive_and_finite():
    rate = bench.matmul_gflops(size=128, repeats=2)
    assert 0.01 < rate < 1e6


def test_bench_on_digits_writes_json_and_markdown(tmp_path):
    run_dir = tmp_path / "bench"
    proc = run_fcnn("bench", "repeats=1", "warmup=0", "dataset=digits", "backends=[numpy,jax]",
                    "struct=[64]", "floor_matmul_size=512", "predict_repeats=2",
                    f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr
    assert "fcnn bench" in proc.stdout and "floor:" in proc.stdout

    report = json.loads((run_dir / "bench.json").read_text())
    floor = report["floor"]
    sizes = [64, 64, 10]  # digits' 8x8 pixels, struct [64], ten classes
    assert floor["gflop"] == pytest.approx(bench.job_gflop(sizes, report["n_train"], 3))
    assert floor["gflops_rate"] > 0
    assert floor["seconds"] == pytest.approx(floor["gflop"] / floor["gflops_rate"])
    # The floor is measured before, between and after the backends; the best rate counts.
    assert [m["when"] for m in floor["measurements"]] == ["before", "before jax", "after"]
    assert floor["gflops_rate"] == max(m["gflops_rate"] for m in floor["measurements"])
    results = {r["backend"]: r for r in report["results"]}
    assert list(results) == ["numpy", "jax"]
    for r in results.values():
        assert r["device"] == "cpu"
        assert r["status"] == "completed"
        assert 0 < r["fit_min"] <= r["fit_median"]
        assert r["ratio_to_floor"] == pytest.approx(r["fit_median"] / floor["seconds"])
        assert 0 < r["predict_median"] < r["fit_median"]
        assert 0.5 < r["test_acc"] <= 1.0
        assert r["optimizer"] == "sgd" and r["lr"] == 0.1 and "ratio_to_sgd" not in r
        assert r["noisy_floor"] == (r["ratio_to_floor"] < 1.0)
    assert results["numpy"]["compile_seconds"] == 0
    assert results["jax"]["compile_seconds"] > 0
    # Same init, same batches: float32 rounding apart, the same model.
    assert results["jax"]["test_acc"] == pytest.approx(results["numpy"]["test_acc"], abs=0.02)

    md = (run_dir / "bench.md").read_text()
    assert "| numpy | cpu | sgd, lr 0.1 |" in md and "| jax | cpu |" in md and "x floor" in md
    assert "x sgd" not in md


def test_bench_with_adam_times_plain_sgd_beside_it(tmp_path):
    run_dir = tmp_path / "bench"
    proc = run_fcnn("bench", "optimizer=adam", "repeats=2", "warmup=0", "dataset=digits",
                    "backends=[numpy]", "struct=[64]", "floor_matmul_size=256", "predict_repeats=1",
                    f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((run_dir / "bench.json").read_text())
    sgd, adam = report["results"]
    assert (sgd["backend"], sgd["optimizer"], sgd["lr"]) == ("numpy", "sgd", 0.1)
    # optimizer=adam brings its own default rate, 0.001
    assert (adam["backend"], adam["optimizer"], adam["lr"]) == ("numpy", "adam", 0.001)
    assert report["job"]["optimizer"] == "adam" and report["job"]["lr"] == 0.001
    assert len(sgd["fit_seconds"]) == len(adam["fit_seconds"]) == 2
    assert adam["ratio_to_sgd"] == pytest.approx(adam["fit_median"] / sgd["fit_median"])
    assert adam["status"] == sgd["status"] == "completed"
    assert [m["when"] for m in report["floor"]["measurements"]] == ["before", "after"]
    md = (run_dir / "bench.md").read_text()
    assert "x sgd" in md and "| numpy | cpu | adam, lr 0.001 |" in md


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


@pytest.mark.parametrize(("option", "key"), [
    ("backends=[numpy,nope]", "backends"),
    ("backends=numpy", "backends"),
    ("repeats=0", "repeats"),
])
def test_bad_options_are_one_line_errors(tmp_path, option, key):
    proc = run_fcnn("bench", "dataset=digits", option, f"hydra.run.dir={tmp_path / 'b'}")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"fcnn: error: {key}:"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "b" / "bench.json").exists()


def test_update_cost_script_predicts_x_sgd_from_the_update_alone(tmp_path):
    """scripts/update_cost.py: each line's extra seconds are 1,800 x (Adam's - SGD's update), and
    the x sgd it predicts is (SGD fit + those seconds) / SGD fit of the bench.json given."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "update_cost.py"
    fits = {"numpy": (10.0, 1.6), "jax": (5.0, 1.2), "jax-grad": (4.0, 1.3)}
    results = []
    for backend, (sgd_fit, ratio) in fits.items():
        results += [{"backend": backend, "optimizer": "sgd", "fit_median": sgd_fit},
                    {"backend": backend, "optimizer": "adam", "fit_median": sgd_fit * ratio,
                     "ratio_to_sgd": ratio}]
    report = tmp_path / "bench.json"
    report.write_text(json.dumps({"results": results}))
    proc = subprocess.run([sys.executable, str(script), "--bench", str(report), "--repeats", "6"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[0]: line for line in proc.stdout.splitlines()[1:]}
    assert set(lines) == {"numpy", "jax"}
    for backend, line in lines.items():
        sgd, adam, extra = (float(x) for x in re.search(
            r"sgd ([\d.]+)  adam ([\d.]+)  extra per job (-?[\d.]+) s", line).groups())
        assert extra == pytest.approx(1.8 * (adam - sgd), abs=0.01)
        for name in [backend, "jax-grad"] if backend == "jax" else [backend]:
            sgd_fit, ratio = fits[name]
            predicted, measured = (float(x) for x in re.search(
                rf"{name}: x sgd from the update alone (-?[\d.]+), measured ([\d.]+)", line).groups())
            assert predicted == pytest.approx((sgd_fit + extra) / sgd_fit, abs=0.01)
            assert measured == ratio
