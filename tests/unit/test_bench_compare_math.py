"""scripts/bench_compare.py's arithmetic, in process: the A B A B order, the ratio of medians with
the paired min-max, the table and the environment's cache key. A real run: tests/cli/test_bench_compare.py."""

from __future__ import annotations

import importlib.util

import pytest
from helpers import REPO

spec = importlib.util.spec_from_file_location("bench_compare", REPO / "scripts" / "bench_compare.py")
bench_compare = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_compare)


def test_sides_alternate_a_b_every_round():
    assert bench_compare.schedule(3) == [(0, "A"), (0, "B"), (1, "A"), (1, "B"), (2, "A"), (2, "B")]


def test_ratio_of_medians_and_paired_spread():
    a = [10.0, 12.0, 11.0]  # median 11
    b = [8.0, 9.9, 8.8]  # median 8.8
    r = bench_compare.compare(a, b)
    assert r["ratio"] == pytest.approx(8.8 / 11)
    assert r["a_median"] == 11 and r["b_median"] == 8.8
    assert (r["a_min"], r["a_max"], r["b_min"], r["b_max"]) == (10, 12, 8, 9.9)
    # paired, round by round: 0.8, 0.825, 0.8
    assert r["ratio_min"] == pytest.approx(0.8) and r["ratio_max"] == pytest.approx(0.825)
    assert r["rounds"] == 3


def test_table_says_whether_the_models_agree():
    rows = {"numpy": bench_compare.compare([2.0, 2.2], [1.0, 1.1]),
            "jax": bench_compare.compare([1.0], [1.5])}
    lines = bench_compare.table(rows, {"numpy": ({0.97}, {0.97}), "jax": ({0.97}, {0.96})})
    assert lines[0].split()[:2] == ["backend", "A"]
    numpy_line = next(line for line in lines if line.startswith("numpy"))
    assert "0.500" in numpy_line and "-50.0%" in numpy_line and "(same)" in numpy_line
    jax_line = next(line for line in lines if line.startswith("jax"))
    assert "1.500" in jax_line and "+50.0%" in jax_line and "DIFFERENT" in jax_line


def test_the_environment_is_keyed_by_what_goes_into_it():
    key = bench_compare.venv_key("numpy==2.4.6\n", ["numpy>=1.26", "jax"], "3.11.7")
    assert key == bench_compare.venv_key("numpy==2.4.6\n", ["jax", "numpy>=1.26", "jax"], "3.11.7")
    assert key != bench_compare.venv_key("numpy==2.4.5\n", ["numpy>=1.26", "jax"], "3.11.7")
    assert key != bench_compare.venv_key("numpy==2.4.6\n", ["numpy>=1.26", "jax"], "3.12.1")
    assert key != bench_compare.venv_key("numpy==2.4.6\n", ["numpy>=1.26"], "3.11.7")
