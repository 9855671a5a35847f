"""The `threads` setting: pinned(n) holds numpy's BLAS to n threads (as threadpoolctl reads it)
and gives the count back after; threads=null pins nothing, except in a SLURM job, which gets its
cpus_per_task; describe() names the library, its kernel and its threads. That the same count
gives the same bits, locally, under joblib and under SLURM: tests/cli/test_threads_bitwise.py and
tests/cli/test_slurm.py."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from fcnn_cli.backends import threads


def _numpy_threads() -> int:
    return threads.numpy_blas()["num_threads"]


def _all_blas_threads() -> list[int]:
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


@pytest.fixture(autouse=True)
def _not_in_slurm(monkeypatch):
    monkeypatch.delenv(threads.SLURM_CPUS, raising=False)


def test_pinned_holds_every_blas_to_the_count_and_gives_it_back():
    before = _all_blas_threads()
    assert before, "threadpoolctl finds no BLAS"
    with threads.pinned(1) as count:
        assert count == 1
        assert _numpy_threads() == 1
        assert set(_all_blas_threads()) == {1}
        a = np.ones((300, 300))
        assert np.array_equal(a @ a, np.full((300, 300), 300.0))  # BLAS still computes
    assert _all_blas_threads() == before


def test_pinned_can_raise_the_count_above_the_start():
    """A joblib worker starts its BLAS on its share of the cores; threads=N still gives N."""
    with threads.pinned(1), threads.pinned(2) as count:
        assert count == _numpy_threads() == 2


def test_null_pins_nothing_outside_slurm():
    before = _all_blas_threads()
    # Under a count other than the start, to see that None leaves it alone.
    with threads.pinned(1), threads.pinned(None) as count:
        assert count is None
        assert set(_all_blas_threads()) == {1}
    assert _all_blas_threads() == before


def test_a_slurm_job_runs_on_its_cpus_per_task(monkeypatch):
    monkeypatch.setenv(threads.SLURM_CPUS, "1")
    assert threads.effective(None) == 1
    assert threads.effective(3) == 3  # the setting wins
    with threads.pinned(None) as count:
        assert count == 1 and _numpy_threads() == 1
    for junk in ("", "0", "two"):
        monkeypatch.setenv(threads.SLURM_CPUS, junk)
        assert threads.effective(None) is None


def test_describe_names_the_blas_its_kernel_and_the_runs_threads():
    blas = threads.numpy_blas()
    described = threads.describe(1)
    assert set(described) == {"threads", "blas", "blas_kernel", "blas_threads"}
    assert described["threads"] == described["blas_threads"] == 1
    assert described["blas"] == f"{blas['internal_api']} {blas['version']}"
    assert described["blas_kernel"] == blas.get("architecture")
    assert described["blas"].startswith(("openblas", "mkl", "blis"))
    unpinned = threads.describe()
    assert unpinned["threads"] is None
    assert unpinned["blas_threads"] == _numpy_threads()
