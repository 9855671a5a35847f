"""`fcnn bench` for real: a run on digits and the report files it writes, what it shows on an
80-column screen and on stderr while it works, Adam timed beside plain SGD, bad options in one
line, and scripts/update_cost.py. Its arithmetic in process: tests/unit/test_bench_math.py."""

from __future__ import annotations

import json
import re

import pytest
from helpers import REPO, run_fcnn

from fcnn_cli.commands.bench import floor as floors


def test_bench_on_digits_writes_json_and_markdown(tmp_path):
    run_dir = tmp_path / "bench"
    proc = run_fcnn("bench", "repeats=1", "warmup=0", "dataset=digits", "backends=[numpy,jax]",
                    "struct=[64]", "floor_matmul_size=512", "predict_repeats=2",
                    f"hydra.run.dir={run_dir}", env={"COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr

    report = json.loads((run_dir / "bench.json").read_text())
    floor = report["floor"]
    sizes = [64, 64, 10]  # digits' 8x8 pixels, struct [64], ten classes
    assert floor["gflop"] == pytest.approx(floors.job_gflop(sizes, report["n_train"], 3))
    # The floor is measured before, between and after the backends, for numpy's BLAS and XLA
    # alike; the fastest library's best repeat counts.
    measurements = floor["measurements"]
    assert [m["when"] for m in measurements] == ["before", "before jax", "after"]
    assert all(set(m["rates"]) == {"numpy", "xla"} and len(m["rates"]["numpy"]) == 7
               for m in measurements)
    best = {lib: max(rate for m in measurements for rate in m["rates"][lib]) for lib in ("numpy", "xla")}
    assert floor["library"] == max(best, key=best.get)
    assert floor["gflops_rate"] == max(best.values()) > 0
    assert floor["seconds"] == pytest.approx(floor["gflop"] / floor["gflops_rate"])
    assert floor["noisy"] == (floor["spread"] > floors.NOISE)
    assert report["blas"]["user_api"] == "blas" and report["blas"]["num_threads"] >= 1
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
        # flagged by what the floor says of itself, not by the ratio's value
        assert r["noisy_floor"] == floor["noisy"]
        assert r["below_floor"] == (r["ratio_to_floor"] < 1.0)
    assert results["numpy"]["compile_seconds"] == 0
    assert results["jax"]["compile_seconds"] > 0
    # Same init, same batches: float32 rounding apart, the same model.
    assert results["jax"]["test_acc"] == pytest.approx(results["numpy"]["test_acc"], abs=0.02)

    # The screen: a plain sentence first, then a table within 80 columns, nothing cut.
    out = proc.stdout
    sentence = " ".join(out[:out.index(".\n")].split())
    assert re.fullmatch(r"numpy trains the timing job \(digits, struct \[64\], 3 epochs\) in "
                        rf"[\d.]+ m?s, {results['numpy']['ratio_to_floor']:.1f}x the least time this "
                        r"CPU needs for its arithmetic \([\d.]+ m?s\); "
                        rf"jax [\d.]+ m?s \({results['jax']['ratio_to_floor']:.1f}x\)", sentence)
    *screen, where = out.splitlines()
    assert where == f"bench.json and bench.md in {run_dir}"  # a path is as long as it is
    assert max(len(line.rstrip()) for line in screen) <= 80
    assert "…" not in out and "\x1b" not in out
    assert "floor:" in out and "numpy's BLAS:" in out
    # stderr, piped: one plain line per step, no spinner, no ANSI codes
    steps = [line for line in proc.stderr.splitlines() if line.startswith("fcnn bench: ")]
    assert steps == ["fcnn bench: loading digits", "fcnn bench: measuring the floor (before)",
                     "fcnn bench: numpy: timed run 1 of 1",
                     "fcnn bench: measuring the floor (before jax)",
                     "fcnn bench: jax: timed run 1 of 1", "fcnn bench: measuring the floor (after)"]
    assert "\x1b" not in proc.stderr and "\r" not in proc.stderr

    md = (run_dir / "bench.md").read_text()
    assert "| numpy | cpu | sgd, lr 0.1 |" in md and "| jax | cpu |" in md and "x floor" in md
    assert "| fit min s |" in md  # every column
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


@pytest.mark.parametrize(("option", "key"), [
    ("backends=[numpy,nope]", "backends"),
    ("backends=numpy", "backends"),
    ("repeats=0", "repeats"),
    ("peers=maybe", "peers"),
    ("profile=1", "profile"),
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

    script = REPO / "scripts" / "update_cost.py"
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
