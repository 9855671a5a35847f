"""`fcnn bench` on digits with the gemm floor and `profile=true`: bench.json holds the job's own
products' floor and "x gemm floor" per backend, and a per-step breakdown for each backend that
has one (numpy, jax), whose parts add up to the step; bench.md shows both."""

from __future__ import annotations

import json

import pytest
from helpers import run_fcnn

from fcnn_cli.commands.bench import floor as floors
from fcnn_cli.commands.bench import gemm_floor


def test_bench_reports_the_gemm_floor_and_a_profile(tmp_path):
    run_dir = tmp_path / "bench"
    proc = run_fcnn("bench", "repeats=1", "warmup=0", "dataset=digits", "backends=[numpy,jax,sklearn]",
                    "struct=[64]", "floor_matmul_size=256", "floor_repeats=2", "predict_repeats=1",
                    "profile=true", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((run_dir / "bench.json").read_text())
    gemm = report["floor"]["gemm"]
    sizes = [64, 64, 10]
    plan = gemm_floor.job_plan(sizes, report["n_train"], 100, gemm["eval_rows"], 3)
    assert gemm["gflop"] == pytest.approx(gemm_floor.plan_flop(plan) / 1e9)
    assert gemm["gflop"] == pytest.approx(floors.job_gflop(sizes, report["n_train"], 3))
    assert [s["what"] for s in gemm["sequences"]] == [what for what, _, _ in plan]
    # measured with the large product's floor, at every point; the best counts
    times = [m["gemm_seconds"] for m in report["floor"]["measurements"]]
    assert len(times) == 4 and gemm["seconds"] == min(times)
    for r in report["results"]:
        assert r["ratio_to_gemm_floor"] == pytest.approx(r["fit_median"] / gemm["seconds"])

    profiles = report["profile"]
    assert set(profiles) == {"numpy", "jax"}  # sklearn has no breakdown
    numpy_parts = [row["part"] for row in profiles["numpy"]["rows"]]
    assert numpy_parts[:8] == ["gather", "products, forward", "bias + activation", "output error",
                               "products, backward", "activation derivative", "bias gradients", "update"]
    for p in profiles.values():
        assert p["batch"] == 100 and p["step_ms"] > 0
        assert sum(row["ms"] for row in p["rows"]) == pytest.approx(p["step_ms"])
        assert all(row["ms"] > 0 for row in p["rows"][:-1])
        assert p["scoring"]["ms"] > 0 and p["scoring"]["products_ms"] > 0

    md = (run_dir / "bench.md").read_text()
    assert "x gemm floor" in md and "gemm floor: the job's own float32 matrix products" in md
    assert "### numpy: one step of batch 100" in md and "### jax: one step of batch 100" in md
    assert "### sklearn" not in md
    assert "### numpy: one step" in proc.stdout
