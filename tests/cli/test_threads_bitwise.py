"""The `threads` setting end to end: two runs with threads=1 end on the same weights bit for bit,
and so does the same run as a job of a joblib sweep (hydra/launcher=local); on two threads the
same run ends elsewhere, so the equality is not that of a job too small for BLAS to thread. The
same against a SLURM job: tests/cli/test_slurm.py; pinned() itself: tests/unit/test_threads.py.

The job: numpy, float32 MNIST 3 against 8 (12k training images), [512,256], batch 20, one epoch:
products large enough that OpenBLAS splits them between its threads."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import run_fcnn

pytestmark = [pytest.mark.mnist, pytest.mark.slow]

JOB = ("backend=numpy", "dataset=mnist", "dataset.classes=[3,8]", "struct=[512,256]",
       "batch_size=20", "max_epochs=1", "progress=false", "plot=false")


def _train(directory: Path, *overrides: str) -> Path:
    proc = run_fcnn("train", *JOB, *overrides, f"hydra.run.dir={directory}")
    assert proc.returncode == 0, proc.stderr
    return directory


def _weights(run: Path) -> dict[str, np.ndarray]:
    with np.load(run / "model.npz") as model:
        return {name: model[name] for name in model.files if name[0] in "Wb" and name[1:].isdigit()}


def _bitwise_equal(a: Path, b: Path) -> bool:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys() and len(wa) == 6
    return all(np.array_equal(wa[k], wb[k]) and wa[k].dtype == wb[k].dtype for k in wa)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("threads")
    found = {"one": _train(root / "one", "threads=1"), "again": _train(root / "again", "threads=1")}
    sweep = root / "joblib"
    proc = run_fcnn("train", "-m", "hydra/launcher=local", *JOB, "threads=1", "seed=1,2",
                    f"hydra.sweep.dir={sweep}")
    assert proc.returncode == 0, proc.stderr
    found["joblib"] = sweep / "0"  # seed=1, as the local runs
    if (os.cpu_count() or 1) >= 2:
        found["two"] = _train(root / "two", "threads=2")
    return found


def test_two_runs_on_one_thread_are_bitwise_equal(runs):
    assert yaml.safe_load((runs["one"] / ".hydra" / "config.yaml").read_text())["threads"] == 1
    assert _bitwise_equal(runs["one"], runs["again"])


def test_a_joblib_job_on_one_thread_equals_the_local_run(runs):
    config = yaml.safe_load((runs["joblib"] / ".hydra" / "config.yaml").read_text())
    assert (config["threads"], config["seed"]) == (1, 1)
    assert _bitwise_equal(runs["joblib"], runs["one"])


def test_two_threads_end_elsewhere(runs):
    """What makes the equalities above worth testing: the thread count changes the bits."""
    if "two" not in runs:
        pytest.skip("one CPU core: OpenBLAS runs one thread whatever threads says")
    assert not _bitwise_equal(runs["two"], runs["one"])
